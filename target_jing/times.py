"""Turn whatever time a warehouse gives into the API's wall-clock string.

The API's format and zone rules are `jing_client.times`'s; this module reads the
many shapes of time a warehouse holds, a whole column at once. The API takes
`YYYY-MM-DD HH:MM:SS` with no zone and reads it in its own zone (Asia/Shanghai
by default, jing-api.md 5). Reformatting a UTC value blindly would
shift every time by eight hours, so each value is converted: naive values are
read in `source_timezone`, aware values keep their own offset, numbers are epoch
seconds or milliseconds. Text that is not ISO but a plain number ("1759305600",
"1759305600000.0") is an epoch number too: a CSV file is read as text (to keep
leading zeros in ids), so that is how its epoch times arrive. Whole columns are
converted at once (pandas), and so is text in the usual naive ISO shape; only
other text and columns of mixed Python objects are parsed value by value.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from jing_client.times import API_TIME_FORMAT, API_TIME_LENGTH

#: Epoch numbers at or above this are milliseconds: 1e11 s is the year 5138,
#: 1e11 ms is March 1973, so the two readings cannot be confused for real data.
MILLISECONDS_FROM = 1e11

#: Text read as an epoch number when it is not ISO 8601 (which claims "20240101", a date).
EPOCH_TEXT = re.compile(r"[+-]?\d+(\.\d+)?")


def to_api_times(
    values: pd.Series, source_timezone: str, api_timezone: str
) -> tuple[pd.Series, pd.Series]:
    """Return (API time strings or None, error text or None), aligned with `values`."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        aware, errors = values, _no_errors(values)
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        aware, errors = _localize(values, source_timezone)
    elif pd.api.types.is_bool_dtype(values.dtype):
        aware = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
        errors = values.map(lambda v: None if pd.isna(v) else f"{v!r} is not a time")
    elif pd.api.types.is_numeric_dtype(values.dtype):
        aware, errors = _from_epoch(values)
    else:
        aware, errors = _from_objects(values, source_timezone)
    text = aware.dt.tz_convert(api_timezone).dt.strftime(API_TIME_FORMAT)
    text = text.astype(object).where(aware.notna(), None)
    # The API's format has four-digit years: 9999-12-31 23:00 UTC is already 10000 in Shanghai.
    beyond = text.map(lambda t: t is not None and len(t) != API_TIME_LENGTH)
    if beyond.any():
        late = values[beyond].map(lambda v: f"{v!r} is past the year 9999 in {api_timezone}")
        errors = errors.astype(object).where(~beyond, late)
        text = text.where(~beyond, None)
    return text, errors


def _no_errors(values: pd.Series) -> pd.Series:
    return pd.Series(None, index=values.index, dtype=object)


def _localize(naive: pd.Series, zone: str) -> tuple[pd.Series, pd.Series]:
    """Read naive times in `zone`; a wall time that a DST change skips or repeats is refused.

    Guessing which of two instants was meant could write a wrong time, so the
    row is rejected with the reason instead.
    """
    aware = naive.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    lost = naive.notna() & aware.isna()
    errors = _no_errors(naive)
    if lost.any():
        errors[lost] = naive[lost].map(
            lambda v: f"{v} is ambiguous or does not exist in source_timezone {zone}"
        )
    return aware.dt.tz_convert("UTC"), errors


def _from_epoch(numbers: pd.Series) -> tuple[pd.Series, pd.Series]:
    floats = numbers.astype("float64")
    finite = np.isfinite(floats)
    seconds = floats.where(floats.abs() < MILLISECONDS_FROM, floats / 1000.0)
    aware = pd.to_datetime(seconds.where(finite), unit="s", utc=True, errors="coerce")
    errors = _no_errors(numbers)
    bad = numbers.notna() & aware.isna()
    if bad.any():
        errors[bad] = numbers[bad].map(lambda v: f"{v!r} is not an epoch time")
    return aware, errors


def _from_objects(values: pd.Series, source_timezone: str) -> tuple[pd.Series, pd.Series]:
    """Read text in the usual naive ISO shape a whole column at once, anything else one by
    one; then convert naive and aware times as whole columns."""
    index = values.index
    naive = _plain_iso_times(values)
    utc = pd.Series(pd.NaT, index=index, dtype="datetime64[us]")
    errors = pd.Series(None, index=index, dtype=object)
    rest = (naive.isna() & values.notna()).to_numpy()
    if rest.any():
        parsed = [_parse_aware_in_utc(value) for value in values[rest].tolist()]
        times = [time for time, _ in parsed]
        naive[rest] = _datetimes([t if t is None or t.tzinfo is None else None for t in times])
        utc[rest] = _datetimes(
            [None if t is None or t.tzinfo is None else t.replace(tzinfo=None) for t in times]
        )
        errors[rest] = [error for _, error in parsed]
    local, local_errors = _localize(naive, source_timezone)
    aware = local.fillna(utc.dt.tz_localize("UTC"))
    return aware, errors.where(errors.notna(), local_errors)


#: Text as warehouses write a naive time (`2025-10-01 08:00:00`, a `T`, to the minute or
#: the microsecond, or a date alone): read a whole column at once by pandas, which reads
#: it as `datetime.fromisoformat` does.
_PLAIN_ISO = r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?"


def _plain_iso_times(values: pd.Series) -> pd.Series:
    """The values that are text in the `_PLAIN_ISO` shape, as naive times; NaT elsewhere.

    A value pandas cannot read (the 30th of February, a year it cannot hold) is
    left NaT too, for `_parse_one` to read or refuse with its reason.
    """
    try:
        text = values.str.strip()
        plain = text.str.fullmatch(_PLAIN_ISO).fillna(False).astype(bool)
    except AttributeError:  # no text at all in the column
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    parsed = pd.to_datetime(text.where(plain), format="ISO8601", errors="coerce")
    return parsed.astype("datetime64[us]")


def _parse_aware_in_utc(value: Any) -> tuple[datetime | None, str | None]:
    """`_parse_one`, with an aware time moved to UTC (or refused when UTC cannot hold it)."""
    parsed, error = _parse_one(value)
    if parsed is not None and parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(UTC)
        except OverflowError:  # 9999-12-31T23:59-10:00 is in the year 10000 in UTC
            return None, f"{value!r} is out of range in UTC"
    return parsed, error


def _datetimes(items: list[datetime | None]) -> Any:
    return pd.to_datetime(items).astype("datetime64[us]").to_numpy()


def _parse_one(value: Any) -> tuple[datetime | None, str | None]:
    """Return (datetime, None), (None, error) or (None, None) for an empty value."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None, None
    if isinstance(value, bool | np.bool_):
        return None, f"{value!r} is not a time"
    if isinstance(value, datetime):
        return _py_datetime(value), None
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day), None
    if isinstance(value, int | float | Decimal | np.integer | np.floating):
        return _epoch_one(float(value))
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None, None
        try:
            return datetime.fromisoformat(text.replace("/", "-")), None
        except ValueError:
            if EPOCH_TEXT.fullmatch(text):
                return _epoch_one(float(text))
            return None, f"{value!r} does not parse as a time"
    if value is pd.NA:
        return None, None
    return None, f"{value!r} is not a time"


def _py_datetime(value: datetime) -> datetime:
    """pandas Timestamps become plain datetimes (nanoseconds dropped; the API keeps seconds)."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime(warn=False)
    return value


def _epoch_one(number: float) -> tuple[datetime | None, str | None]:
    if not math.isfinite(number):
        return None, f"{number!r} is not an epoch time"
    seconds = number / 1000.0 if abs(number) >= MILLISECONDS_FROM else number
    try:
        return datetime.fromtimestamp(seconds, UTC), None
    except (OverflowError, OSError, ValueError):
        return None, f"{number!r} is not an epoch time"
