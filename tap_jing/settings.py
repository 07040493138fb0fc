"""Every setting of tap-jing: the client's (those that act on the tap) and the tap's own.

`TAP_DECLARATIONS` is the one list: the SDK's config schema (so `--about`), the
validation messages, meltano.yml's settings and the README table all come from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jing_client.declarations import TAP, Declarations, Setting
from jing_client.settings import CLIENT_SETTINGS

TAP_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "start_date",
        "date_time",
        "On the first run (no bookmark), read only records updated at or after this time "
        "(ISO 8601; without an offset it is UTC). Later runs start from their bookmarks.",
    ),
    Setting(
        "page_size",
        "integer",
        "Items per list call; at most page_size_limit (100 by the API contract).",
        default=100,
        minimum=1,
    ),
    Setting(
        "activity_ids",
        "array",
        "Only these activities (entity_uuid) and their registrations; all activities when unset.",
        extra_schema={"items": {"type": ["string"], "minLength": 1}},
    ),
    Setting(
        "include_activity_details",
        "boolean",
        "Add description and form_fields to each emitted activity, from /v1/activity/detail "
        "(one extra call per activity).",
        default=False,
    ),
)

#: The client's connection settings first, then what only the tap reads.
TAP_DECLARATIONS = Declarations(TAP, (*CLIENT_SETTINGS[:4], *TAP_SETTINGS, *CLIENT_SETTINGS[4:]))


def cross_setting_problems(config: Mapping[str, Any]) -> list[str]:
    """What one setting's declaration cannot say: page_size within page_size_limit, a real date."""
    problems = []
    page_size, limit = config["page_size"], config["page_size_limit"]
    if page_size > limit:
        problems.append(f"setting 'page_size' ({page_size}) is above 'page_size_limit' ({limit})")
    start_date = config.get("start_date")
    if start_date is not None:
        try:
            when = datetime.fromisoformat(start_date)
        except (TypeError, ValueError):
            problems.append(f"setting 'start_date' is not an ISO 8601 date-time: {start_date!r}")
        else:
            problem = _beyond_the_api(when, config.get("api_timezone"))
            if problem:
                problems.append(f"setting 'start_date' ({start_date}) {problem}")
    return problems


def _beyond_the_api(when: datetime, zone_name: Any) -> str | None:
    """Why the API cannot take `when` (its times are years 1-9999 in its zone), or None."""
    try:
        zone = ZoneInfo(str(zone_name or "Asia/Shanghai"))
    except (ZoneInfoNotFoundError, ValueError):
        return None  # the zone's own check names that setting
    try:
        (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(zone).astimezone(UTC)
    except (OverflowError, ValueError):
        return f"is beyond the times the API can hold (years 1 to 9999 in {zone})"
    return None
