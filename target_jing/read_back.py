"""Read back what JING holds for an activity's registrations (the setting `read_back`).

Before planning, the input's activities are read, so that a row JING already
holds is `unchanged` (whatever the ledger remembers) and one changed in JING by
someone else is sent again. After a call whose answer was lost, its activity is
read again to settle each row without a blind resend. Each read costs one list
call per 100 registrations of the activity. An activity that JING no longer has
(40400) is left out of what is observed, so it cannot stop the others: its rows
go on to be sent, and the update's own 40400 makes them `permanent`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any

import pyarrow as pa

from jing_client import JingClient, JingNotFound
from jing_client.times import echoed_time
from target_jing.send import status_text
from target_jing.settings import TIME_FIELDS, WANTED_FIELDS

logger = logging.getLogger("target-jing")

#: Columns of what `observations` returns, as `Ledger.add_observed` takes them.
OBSERVED_SCHEMA = pa.schema(
    [
        ("entity_uuid", pa.string()),
        ("omni_user_uuid", pa.string()),
        *((name, pa.string()) for name in WANTED_FIELDS),
        ("observed_at", pa.timestamp("us", tz="UTC")),
    ]
)


def api_values(item: dict[str, Any], zone: tzinfo) -> dict[str, str | None]:
    """A registration's statuses and times as the API's strings (times in `zone`)."""
    values: dict[str, str | None] = {}
    for name in WANTED_FIELDS:
        value = item.get(name)
        if name in TIME_FIELDS:
            read = echoed_time(value, zone)
            values[name] = read[0] if read else None
        else:
            values[name] = status_text(value)
    return values


class ReadBack:
    """Reads an activity's registered users through the shared client."""

    def __init__(self, client: JingClient, zone: tzinfo) -> None:
        self.client = client
        self.zone = zone

    def registrations(self, entity_uuid: str) -> tuple[dict[str, dict[str, str | None]], str]:
        """User id -> what JING holds now, and a label ("read back at T") for reasons."""
        at = datetime.now(UTC)
        held = {
            item["omni_user_uuid"]: api_values(item, self.zone)
            for page in self.client.iter_pages(
                self.client.settings.paths.activity_user_list, {"entity_uuid": entity_uuid}
            )
            for item in page.items
            if isinstance(item, dict) and isinstance(item.get("omni_user_uuid"), str)
        }
        return held, f"read back at {at:%Y-%m-%d %H:%M:%S} UTC"

    def observations(self, entity_uuids: Iterable[str]) -> pa.Table:
        """What JING holds for every registration of these activities, read now."""
        rows = []
        for entity_uuid in entity_uuids:
            try:
                held, _ = self.registrations(entity_uuid)
            except JingNotFound as error:
                logger.warning("activity %s not read back: %s", entity_uuid, error)
                continue
            at = datetime.now(UTC)
            rows.extend(
                {"entity_uuid": entity_uuid, "omni_user_uuid": user, **values, "observed_at": at}
                for user, values in held.items()
            )
        return pa.Table.from_pylist(rows, schema=OBSERVED_SCHEMA)
