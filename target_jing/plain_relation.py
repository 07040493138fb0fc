"""Stage a DuckDB table or query whose rows are all plainly good, without leaving DuckDB.

Most warehouse tables hold text ids, whole-number or text statuses and TIMESTAMP
(or `YYYY-MM-DD HH:MM:SS` text) times, and every row of them is good. Such a
relation is checked by one aggregate query on its own connection, and its staged
rows reach the ledger as an Arrow C stream that the source's DuckDB exports and
the ledger's DuckDB scans: no value becomes a Python object, and neither pyarrow
nor pandas is imported for it.

The rules are `typed_rows`'s, and so `rows`'s: a relation is taken only when every
value is one those rules accept unchanged. Otherwise `plain_rows` gives None, and
the relation is read in Arrow batches as before, where `rows` names each bad row.

Times are converted by Python's zoneinfo, as `rows` converts them, never by
DuckDB's ICU, whose zone data may be of another release. Each distinct day of the
times is looked up once (`_local_day`, `_utc_day`): its offset, or on a day with a
zone change, the instant of the change and the offsets on either side. That holds
while a zone never changes twice within four days: in the years taken
(`input_columns.EXPLICIT_YEARS`, 1970-2036, as in `typed_rows`), the zone files'
closest two changes are 6.9 days apart. A naive time that a change skips or repeats
is not plain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from target_jing.input_columns import (
    EXPLICIT_YEARS,
    PLAIN_ID_EDGES,
    PLAIN_TIME,
    column_for,
    exact_statuses,
)
from target_jing.settings import (
    KEY_FIELDS,
    STATUS_FIELDS,
    WANTED_FIELDS,
    TargetSettings,
)
from target_jing.sources import quote_identifier

#: How far either side of a local day a change of its zone is looked for (see above).
_WINDOW = timedelta(days=2)

_INTEGERS = frozenset(
    ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
)
_NULL = '"NULL"'
_FORMAT = "'%Y-%m-%d %H:%M:%S'"


@dataclass(frozen=True)
class PlainRows:
    """The staged rows of a plain relation, as an Arrow C stream to scan once.

    Its columns: `row_index`, the key fields, then the wanted fields as the API's text.
    """

    stream: object
    count: int
    #: The query behind the stream, kept alive as long as the stream.
    query: object


@dataclass(frozen=True)
class _Time:
    """One time column: its naive time (read in the source's zone) or its UTC instant."""

    naive: str | None
    utc: str | None
    plain: str


def plain_rows(
    relation: duckdb.DuckDBPyRelation, settings: TargetSettings, first_index: int
) -> PlainRows | None:
    """`relation`'s rows, staged, when every one of them is plainly good; else None.

    Row i of `relation` is row `first_index + i` of its source.
    """
    names = relation.columns
    kinds = dict(zip(names, map(str, relation.types), strict=True))
    values: dict[str, str] = {}
    checks: list[str] = []
    times: dict[str, _Time] = {}
    for api_field in (*KEY_FIELDS, *WANTED_FIELDS):
        column = column_for(names, settings.columns[api_field])
        kind = None if column is None else kinds[column]
        name = None if column is None else quote_identifier(column)
        if name is None or kind == _NULL:
            if api_field in KEY_FIELDS:
                return None
            values[api_field] = "CAST(NULL AS VARCHAR)"
        elif api_field in KEY_FIELDS:
            if kind != "VARCHAR":
                return None
            values[api_field] = name
            checks.append(" AND ".join(f"regexp_matches({name}, '{e}')" for e in PLAIN_ID_EDGES))
        elif api_field in STATUS_FIELDS:
            status = _status(name, kind, exact_statuses(settings, api_field))
            if status is None:
                return None
            values[api_field], check = status
            checks.append(check)
        else:
            time = _time(name, kind)
            if time is None:
                return None
            times[api_field] = time
            checks.append(time.plain)
    given = {f: t.naive or t.utc for f, t in times.items()} | values
    wanted = " OR ".join(f"{given[f]} IS NOT NULL" for f in WANTED_FIELDS)
    naive_days = ", ".join(_days(t.naive) for t in times.values() if t.naive)
    utc_days = ", ".join(_days(t.utc) for t in times.values() if t.utc)
    found = _one(
        relation,
        f"SELECT count(*), coalesce(bool_and(coalesce({' AND '.join(checks)}, false)), true), "
        f"coalesce(bool_and({wanted}), true), [{naive_days}], [{utc_days}] FROM src",
    )
    count, plain, something, naive_lists, utc_lists = found
    if not count or not plain or not something:
        return None
    source_zone = ZoneInfo(settings.source_timezone)
    api_zone = ZoneInfo(settings.api_timezone)
    naive = {day for days in naive_lists for day in days}
    local = {day: found for day in naive if (found := _local_day(source_zone, day))}
    # A naive time's UTC day is its own or a neighbour (no zone is 24 hours off).
    instants = {day + timedelta(days=k) for day in naive for k in (-1, 0, 1)}
    instants |= {day for days in utc_lists for day in days}
    utc = {day: found for day in instants if (found := _utc_day(api_zone, day))}
    if len(local) < len(naive) or len(utc) < len(instants):
        return None  # a zone that changes twice within days of a time: none does, 1970-2036
    staged, skipped = _staged_query(values, times, first_index, local, utc)
    changes = any(gap_from is not None for gap_from, *_ in local.values())
    if changes and _one(relation, skipped)[0]:
        return None  # a naive time that a change of the source's zone skips or repeats
    query = relation.query("src", staged)
    return PlainRows(query.__arrow_c_stream__(), count, query)


def _status(name: str, kind: str, exact: list[str]) -> tuple[str, str] | None:
    """A status column's text and its check: whole numbers or text, each one of `exact`."""
    if kind in _INTEGERS:
        value = f"CAST({name} AS VARCHAR)"
    elif kind == "VARCHAR":
        value = name
    else:
        return None
    listed = ", ".join(_text(s) for s in exact)
    return value, f"({value} IS NULL OR {value} IN ({listed or 'NULL'}))"


def _time(name: str, kind: str) -> _Time | None:
    """A time column as a naive time or a UTC instant (whole seconds), and its check."""
    years = f"BETWEEN {EXPLICIT_YEARS[0]} AND {EXPLICIT_YEARS[1]}"
    if kind == "VARCHAR":
        text = f"nullif({name}, '')"
        naive = f"try_strptime({text}, {_FORMAT})"
        plain = (
            f"({text} IS NULL OR (regexp_full_match({text}, '{PLAIN_TIME}') "
            f"AND strftime({naive}, {_FORMAT}) = {text} AND year({naive}) {years}))"
        )
        return _Time(naive, None, plain)
    if kind == "DATE" or kind in ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"):
        naive = f"date_trunc('second', CAST({name} AS TIMESTAMP))"
        return _Time(naive, None, f"({name} IS NULL OR year({naive}) {years})")
    if kind == "TIMESTAMP WITH TIME ZONE":
        # Its instant, read without any zone: the microseconds since the epoch.
        utc = f"date_trunc('second', make_timestamp(epoch_us({name})))"
        return _Time(None, utc, f"({name} IS NULL OR year({utc}) {years})")
    return None


#: Of a local day: the first and the last wall time that a change near it skips or
#: repeats (None and None: no change near it), then the offsets (seconds) before and
#: after the change.
_LocalDay = tuple[datetime | None, datetime | None, int, int]
#: Of a UTC day: the instant of a change on it (None: none), the offsets before and after.
_UtcDay = tuple[datetime | None, int, int]


def _local_day(zone: ZoneInfo, day: date) -> _LocalDay | None:
    """How `zone`'s wall times of `day` map to UTC; None if it seems to change twice near it."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) - _WINDOW
    change = _change(zone, start, start + 2 * _WINDOW)
    if change is None:
        return None
    moment, before, after = change
    if moment is None:
        return None, None, before, before
    wall = moment.replace(tzinfo=None)
    first, last = sorted((wall + timedelta(seconds=before), wall + timedelta(seconds=after)))
    return first, last, before, after


def _utc_day(zone: ZoneInfo, day: date) -> _UtcDay | None:
    """`zone`'s offsets on UTC day `day`; None if it seems to change twice on it."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return _change(zone, start, start + timedelta(days=1))


def _change(zone: ZoneInfo, start: datetime, end: datetime) -> _UtcDay | None:
    """The one change of `zone` between UTC instants `start` and `end`, to the second.

    Found by halving: the offset is `before` until the change and `after` from it on.
    None when the ends' offsets agree but the middle's does not: two changes, which no
    zone file has this close (see the module's docstring); then the batch path reads it.
    """
    before, after, middle = (_offset(zone, t) for t in (start, end, start + (end - start) / 2))
    if before == after:
        return (None, before, before) if middle == before else None
    low, high = start, end
    while high - low > timedelta(seconds=1):
        mid = low + timedelta(seconds=(high - low).total_seconds() // 2)
        low, high = (mid, high) if _offset(zone, mid) == before else (low, mid)
    return high.replace(tzinfo=None), before, after


def _offset(zone: ZoneInfo, moment: datetime) -> int:
    offset = moment.astimezone(zone).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return int(offset.total_seconds())


def _staged_query(
    values: dict[str, str],
    times: dict[str, _Time],
    first_index: int,
    local: dict[date, _LocalDay],
    utc: dict[date, _UtcDay],
) -> tuple[str, str]:
    """The staged rows (`row_index`, the key fields, the wanted fields as the API's
    text) as a query over `src`, and the count of its rows with a naive time that a
    change of the source's zone skips or repeats.

    Row numbers are taken first, over the relation as it streams, so that row i stays
    row i; the joins to the days' offsets come after.
    """
    fields = (*KEY_FIELDS, *WANTED_FIELDS)
    columns = [f"{values[f]} AS {f}" for f in fields if f not in times]
    columns += [f"{t.naive or t.utc} AS {f}__in" for f, t in times.items()]
    outputs = {f: f"x.{f}" for f in fields}
    joins: list[str] = []
    lost: list[str] = []
    for k, (api_field, time) in enumerate(times.items()):
        value = f"x.{api_field}__in"
        if time.naive:
            joins.append(f"LEFT JOIN local_days AS l{k} ON l{k}.day = CAST({value} AS DATE)")
            naive = value
            value = (
                f"(CASE WHEN l{k}.gap_from IS NULL OR {naive} < l{k}.gap_from "
                f"THEN {naive} - to_seconds(l{k}.off_before) "
                f"WHEN {naive} >= l{k}.gap_to THEN {naive} - to_seconds(l{k}.off_after) END)"
            )
            lost.append(f"({naive} IS NOT NULL AND {value} IS NULL)")
        joins.append(f"LEFT JOIN utc_days AS u{k} ON u{k}.day = CAST({value} AS DATE)")
        offset = (
            f"CASE WHEN u{k}.moment IS NULL OR {value} < u{k}.moment "
            f"THEN u{k}.off_before ELSE u{k}.off_after END"
        )
        outputs[api_field] = f"strftime({value} + to_seconds({offset}), {_FORMAT}) AS {api_field}"
    local_rows = [(day, *offsets) for day, offsets in local.items()]
    utc_rows = [(day, *offsets) for day, offsets in utc.items()]
    body = (
        f"WITH x AS (SELECT row_number() OVER () - 1 + {int(first_index)} AS row_index, "
        f"{', '.join(columns)} FROM src), "
        f"local_days AS ({_values(local_rows, 'day, gap_from, gap_to, off_before, off_after')}), "
        f"utc_days AS ({_values(utc_rows, 'day, moment, off_before, off_after')}) "
    )
    rows = f"FROM x {' '.join(joins)}"
    staged = f"{body}SELECT x.row_index, {', '.join(outputs[f] for f in fields)} {rows}"
    skipped = f"{body}SELECT count(*) FILTER (WHERE {' OR '.join(lost) or 'false'}) {rows}"
    return staged, skipped


def _days(moment: str) -> str:
    """The distinct days of a time column, as an aggregate (an empty list: none)."""
    day = f"CAST({moment} AS DATE)"
    return f"coalesce(list(DISTINCT {day}) FILTER (WHERE {moment} IS NOT NULL), [])"


def _values(rows: list[tuple[Any, ...]], names: str) -> str:
    """`rows` as a table with columns `names` (none: an empty table of the same shape)."""
    width = len(names.split(", "))
    if not rows:
        nulls = ", ".join(["CAST(NULL AS DATE)", *["NULL"] * (width - 1)])
        return f"SELECT * FROM (VALUES ({nulls})) AS t({names}) WHERE false"
    body = ", ".join("(" + ", ".join(map(_literal, row)) + ")" for row in rows)
    return f"SELECT * FROM (VALUES {body}) AS t({names})"


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    return str(int(value))  # type: ignore[call-overload]


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _one(relation: duckdb.DuckDBPyRelation, sql: str) -> tuple[Any, ...]:
    """The one row of an aggregate query over `relation` (named `src` in it)."""
    (row,) = relation.query("src", sql).fetchall()
    return tuple(row)
