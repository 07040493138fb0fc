"""The API's time format, and the conversions between its zone and UTC, for both connectors.

The API writes times as "YYYY-MM-DD HH:MM:SS" in its own time zone (jing-api.md
section 5) and filters on the same shape. Records leave the tap as UTC instants
("2024-05-01T02:00:00+00:00"): an offset makes each value unambiguous, and one
fixed offset makes the text order equal the time order, which matters because the
Singer SDK compares bookmarks as strings.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

API_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: The length of an API time string (four-digit years only).
API_TIME_LENGTH = len("YYYY-MM-DD HH:MM:SS")
#: An API time string exactly, in ASCII digits (a real date and clock is checked apart).
_API_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")


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
    return api_text(moment.astimezone(zone))


def api_text(moment: datetime) -> str:
    """A datetime's wall clock in the API's format, with four-digit years (year 135: 0135)."""
    return moment.replace(tzinfo=None, microsecond=0).isoformat(sep=" ")


def echoed_time(text: object, zone: tzinfo) -> tuple[str, int] | None:
    """An echoed time as (the API's string in `zone`, the characters it is precise to).

    The API may echo a time with a `T`, with an offset, or without seconds
    (jing-api.md 6.4): each is read as the instant it names, written in the API's
    format in `zone`. The precision is 16 characters (to the minute) when the echo
    has no seconds, else 19. None for anything that is not a time.
    """
    if not isinstance(text, str):
        return None
    if _API_SHAPE.fullmatch(text):  # the usual echo, already the API's text: only checked
        try:
            datetime.fromisoformat(text)
        except ValueError:
            return None
        return text, API_TIME_LENGTH
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(zone).replace(tzinfo=None)
        except OverflowError:  # "0001-01-01 00:00:00+08:00" is before the first year in `zone`
            return None
    clock = text.strip()[11:]
    precision = 16 if len(clock) == 5 or (len(clock) > 5 and clock[5] in "+-Z") else 19
    return api_text(moment), precision


def same_api_time(wanted: str, echoed: object, zone: tzinfo) -> bool:
    """Whether an echoed time is the wanted API time, at the precision the echo has."""
    read = echoed_time(echoed, zone)
    if read is None:
        return False
    text, precision = read
    return text[:precision] == wanted[:precision]


#: Two-digit minutes or seconds, "00" to "59".
_SIXTY = frozenset(f"{n:02d}" for n in range(60))
#: The most hours an `ApiTimes` remembers; past it, it starts again (a run spans far fewer).
MAX_HOURS = 100_000
_HOUR = timedelta(hours=1)


class ApiTimes:
    """`api_time_to_utc_iso` for one zone, remembering each hour already converted.

    Parsing and formatting a time costs about 2.5 us, and a registration has up to
    four times: a quarter of the tap's work per record. In a zone whose offset is
    a whole number of hours and the same all through an hour, every API time in
    that hour shifts by the same hours and keeps its minutes and seconds, so the
    UTC date and hour are looked up by the text's "YYYY-MM-DD HH" and the rest is
    copied (checked to be a real minute and second). Any other text, zone or hour
    goes through `api_time_to_utc_iso`, which also gives every error.
    """

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._hours: dict[str, str | None] = {}

    def to_utc_iso(self, text: str) -> str:
        """The UTC ISO 8601 instant of an API time string in this zone (see above)."""
        # The UTC "YYYY-MM-DDTHH" of the text's hour; "" for an hour not seen yet, None
        # for one that cannot be copied (or a text of another length).
        utc_hour = self._hours.get(text[:13], "") if len(text) == 19 else None
        if (
            utc_hour
            and text[13] == ":"
            and text[16] == ":"
            and text[14:16] in _SIXTY
            and text[17:] in _SIXTY
        ):
            return utc_hour + text[13:] + "+00:00"
        converted = api_time_to_utc_iso(text, self.zone)
        if utc_hour == "" and text[10] == " " and text[13] == ":" and text[16] == ":":
            self._remember_hour(text)
        return converted

    def _remember_hour(self, text: str) -> None:
        """Note the UTC date and hour of `text`'s hour, or None when it cannot be copied."""
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is not None:
            return
        if len(self._hours) >= MAX_HOURS:
            self._hours.clear()
        start = moment.replace(minute=0, second=0)
        offset = self.zone.utcoffset(start)
        end_offset = self.zone.utcoffset(moment.replace(minute=59, second=59))
        if offset is None or offset != end_offset or offset % _HOUR:
            self._hours[text[:13]] = None
        else:
            self._hours[text[:13]] = (start - offset).isoformat()[:13]
