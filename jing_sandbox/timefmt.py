"""The API's time strings: "YYYY-MM-DD HH:MM:SS" in China Standard Time (jing-api.md 5)."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# China has no daylight saving time, so a fixed offset equals Asia/Shanghai and needs no tzdata.
API_ZONE = timezone(timedelta(hours=8), "Asia/Shanghai")
_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def now_text() -> str:
    """The current time as the API writes it."""
    return datetime.now(API_ZONE).strftime(TIME_FORMAT)


def now_ms() -> int:
    """Epoch milliseconds, as the envelope's `timestamp`."""
    return int(time.time() * 1000)


def text_from_local_seconds(seconds: int) -> str:
    """Format seconds since 1970-01-01 00:00:00 *API-local* time (seeded data uses these)."""
    return time.strftime(TIME_FORMAT, time.gmtime(seconds))


def local_seconds(text: str) -> int:
    """The inverse of `text_from_local_seconds`."""
    return int((datetime.strptime(text, TIME_FORMAT) - datetime(1970, 1, 1)).total_seconds())


def is_time_text(value: object) -> bool:
    """True for a real calendar time in the exact "YYYY-MM-DD HH:MM:SS" shape."""
    if not isinstance(value, str) or not _SHAPE.fullmatch(value):
        return False
    try:
        datetime.strptime(value, TIME_FORMAT)
    except ValueError:
        return False
    return True
