"""Check a typed Arrow batch without pandas, when every row of it is plainly good.

Most warehouse tables hold text ids, whole-number or text statuses and TIMESTAMP
(or `YYYY-MM-DD HH:MM:SS` text) times, and every row is good. Such a batch is
checked here with Arrow compute, a column at a time, and staged as it comes.

The rules are `rows`'s, and this module only ever agrees with them: it takes a
batch when every value is one these rules accept unchanged, and otherwise gives
it back (None) to `rows.check_batch`, which reads each value and names each bad
row. Given back: a missing, blank or padded id; a status that is not allowed, is
a float, a bool or blank text; a time in any other text shape, before the zone's
first year or past 9999, or one that a DST change skips or repeats; a row with
nothing to set; a shard's batch. A run whose rows are all good so never imports
pandas (0.4 s of every run's start, more than its row checks).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from jing_client.times import API_TIME_LENGTH
from target_jing.input_columns import (
    EXPLICIT_YEARS,
    PLAIN_ID_EDGES,
    PLAIN_TIME,
    STAGED_COLUMNS,
    column_for,
    exact_statuses,
)
from target_jing.settings import KEY_FIELDS, STATUS_FIELDS, WANTED_FIELDS, TargetSettings

_FULL_TIME = f"^{PLAIN_TIME}$"
#: Every year of `EXPLICIT_YEARS`, for `pc.is_in`.
_EXPLICIT_YEARS = pa.arange(EXPLICIT_YEARS[0], EXPLICIT_YEARS[1] + 1)


def check_typed(
    batch: pa.RecordBatch, settings: TargetSettings, source: str, first_index: int
) -> pa.Table | None:
    """The staged rows of `batch` (`STAGED_COLUMNS`, no reasons), or None to check it by `rows`.

    Row i of `batch` is row `first_index + i` of `source`.
    """
    count = batch.num_rows
    if count == 0:
        return None
    names = batch.schema.names
    columns: dict[str, pa.Array] = {
        "row_index": pa.arange(first_index, first_index + count),
        "source": pa.repeat(pa.scalar(source, pa.string()), count),
    }
    for api_field in (*KEY_FIELDS, *WANTED_FIELDS):
        column = column_for(names, settings.columns[api_field])
        if column is None and api_field in KEY_FIELDS:
            return None
        if column is None:
            values: pa.Array | None = pa.nulls(count, pa.string())
        elif api_field in KEY_FIELDS:
            values = _ids(batch.column(column))
        elif api_field in STATUS_FIELDS:
            values = _statuses(batch.column(column), exact_statuses(settings, api_field))
        else:
            values = _times(batch.column(column), settings.source_timezone, settings.api_timezone)
        if values is None:
            return None
        columns[api_field] = values
    if not _all(_any_valid([columns[name] for name in WANTED_FIELDS])):
        return None  # a row with nothing to set: `rows` says so
    columns["reason"] = pa.nulls(count, pa.string())
    return pa.table([columns[name] for name in STAGED_COLUMNS], names=list(STAGED_COLUMNS))


def _ids(values: pa.Array) -> pa.Array | None:
    """Text ids, none missing or padded."""
    if not _is_text(values.type) or values.null_count:
        return None
    values = values.cast(pa.string())
    unpadded = pc.and_(*(pc.match_substring_regex(values, edge) for edge in PLAIN_ID_EDGES))
    return values if _all(unpadded) else None


def _statuses(values: pa.Array, exact: list[str]) -> pa.Array | None:
    """Whole numbers or text, each empty or exactly one of the `exact` statuses."""
    kind = values.type
    if pa.types.is_null(kind):
        return pa.nulls(len(values), pa.string())
    if pa.types.is_integer(kind) or _is_text(kind):
        text = values.cast(pa.string())
    else:
        return None
    known = pc.is_in(text, value_set=pa.array(exact, pa.string()))
    return text if _all(pc.if_else(pc.is_null(text), None, known)) else None


def _times(values: pa.Array, source_zone: str, api_zone: str) -> pa.Array | None:
    """Times as the API's strings in `api_zone`; naive ones are read in `source_zone`."""
    kind = values.type
    if pa.types.is_null(kind):
        return pa.nulls(len(values), pa.string())
    if _is_text(kind):
        naive = _plain_times(values.cast(pa.string()))
    elif pa.types.is_date(kind):
        naive = values.cast(pa.timestamp("s"))
    elif pa.types.is_timestamp(kind):
        naive = values
    else:
        return None
    if naive is None:
        return None
    if not _all(pc.if_else(pc.is_null(naive), None, pc.is_in(pc.year(naive), _EXPLICIT_YEARS))):
        return None
    try:
        aware = naive
        if naive.type.tz is None:
            aware = pc.assume_timezone(
                naive, timezone=source_zone, ambiguous="raise", nonexistent="raise"
            )
        local = pc.local_timestamp(aware.cast(pa.timestamp(aware.type.unit, api_zone)))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a DST gap, an unknown zone
        return None
    text = _wall_text(local)
    return text if _all(pc.equal(pc.utf8_length(text), API_TIME_LENGTH)) else None


def _plain_times(text: pa.Array) -> pa.Array | None:
    """Text in the API's shape as naive times; "" as no time; None for any other text."""
    empty = pc.equal(text, "")
    text = pc.if_else(empty, pa.scalar(None, pa.string()), text)
    if not _all(pc.match_substring_regex(text, _FULL_TIME)):
        return None
    naive = pc.strptime(text, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True)
    if naive.null_count != text.null_count:  # a month 13
        return None
    return naive if _all(pc.equal(_wall_text(naive), text)) else None


def _wall_text(moments: pa.Array) -> pa.Array:
    """Naive times as `YYYY-MM-DD HH:MM:SS`, sub-seconds dropped (rounded down, as strftime)."""
    seconds = pc.floor_temporal(moments, unit="second").cast(pa.timestamp("s"))
    return seconds.cast(pa.string())


def _any_valid(arrays: list[pa.Array]) -> pa.Array:
    found = pc.is_valid(arrays[0])
    for array in arrays[1:]:
        found = pc.or_(found, pc.is_valid(array))
    return found


def _all(mask: pa.Array) -> bool:
    """Every value true, but for the nulls (a check of a null value: an empty cell)."""
    return pc.all(mask, skip_nulls=True, min_count=0).as_py() is True


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or kind == pa.string_view()
