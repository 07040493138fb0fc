"""Relations staged inside DuckDB (`plain_relation`) are staged as `rows` stages them.

Tables are real DuckDB tables, read as `SyncRun.add_relation` reads them; the staged
rows come back through the Arrow C stream that the ledger scans.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from row_cases import BAD, COLUMNS, GOOD, TYPES, among_good, full_checks, random_table
from row_cases import settings as target_settings

from target_jing.engine import _readable
from target_jing.plain_relation import plain_rows
from target_jing.settings import TargetSettings


def staged(types: str, rows: list[str], config: TargetSettings) -> list[dict[str, Any]] | None:
    """What `plain_rows` stages from a table with `types` holding `rows`, or None."""
    with duckdb.connect() as source, duckdb.connect() as ledger:
        source.execute(f"CREATE TABLE t ({types})")
        source.execute("INSERT INTO t VALUES " + ", ".join(rows))
        found = plain_rows(_readable(source.sql(f"SELECT {COLUMNS} FROM t"), config), config, 5)
        if found is None:
            return None
        ledger.register("staged", found.stream)
        result = ledger.execute("SELECT * FROM staged ORDER BY row_index")
        names = [d[0] for d in result.description]
        values = result.fetchall()
    assert len(values) == found.count
    return [{"source": "src", **dict(zip(names, v, strict=True)), "reason": None} for v in values]


def reference(types: str, rows: list[str], config: TargetSettings) -> list[dict[str, Any]]:
    """What the full checks stage from the same table, read as `add_relation` reads it."""
    with duckdb.connect() as source:
        source.execute(f"CREATE TABLE t ({types})")
        source.execute("INSERT INTO t VALUES " + ", ".join(rows))
        table = _readable(source.sql(f"SELECT {COLUMNS} FROM t"), config).to_arrow_table()
    return full_checks(table.combine_chunks().to_batches()[0], config)


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = ["row_index", "source", "entity_uuid", "omni_user_uuid"]
    return [{k: row[k] for k in [*keys, *sorted(set(row) - {*keys})]} for row in rows]


@pytest.mark.parametrize(("kinds", "rows"), list(GOOD.items()), ids=str)
@pytest.mark.parametrize(
    ("source_zone", "api_zone"),
    [("UTC", "Asia/Shanghai"), ("America/New_York", "Asia/Shanghai"), ("Asia/Shanghai", "UTC")],
)
def test_good_rows_of_each_type_are_staged_in_duckdb_as_the_full_checks_stage_them(
    kinds: tuple[str, str], rows: list[str], source_zone: str, api_zone: str
) -> None:
    config = target_settings(source_timezone=source_zone, api_timezone=api_zone)
    types = TYPES.format(s=kinds[0], t=kinds[1])
    found = staged(types, rows, config)
    assert found is not None, "plainly good rows are staged in DuckDB"
    assert _ordered(found) == _ordered(reference(types, rows, config))


@pytest.mark.parametrize(("status", "time", "row"), BAD, ids=[b[2] for b in BAD])
def test_a_relation_with_any_value_the_full_checks_read_is_left_to_them(
    status: str, time: str, row: str
) -> None:
    config = target_settings(source_timezone="America/New_York")
    assert staged(TYPES.format(s=status, t=time), among_good(row), config) is None


def test_ids_that_are_numbers_are_staged_as_their_digits() -> None:
    config = target_settings()
    types = "activity_id BIGINT, user_id HUGEINT, approve_status INTEGER, signin_status INTEGER, "
    rows = ["(9007199254740993, 170141183460469231731687303715884105727, 1, 0, NULL)"]
    found = staged(types + "signin_time TIMESTAMP", rows, config)
    assert found is not None
    assert (found[0]["entity_uuid"], found[0]["omni_user_uuid"]) == (
        "9007199254740993",
        "170141183460469231731687303715884105727",
    )


@contextmanager
def staged_at_scale(
    create: str, read: Callable[[duckdb.DuckDBPyConnection], duckdb.DuckDBPyRelation], first: int
) -> Iterator[tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection]]:
    """A source table made by `create` on 4 threads, read by `read` and staged from row
    `first`; yields the source and a ledger connection where the rows are `staged`."""
    config = target_settings()
    with duckdb.connect() as source, duckdb.connect() as ledger:
        source.execute("SET threads = 4")
        source.execute(create)
        found = plain_rows(_readable(read(source), config), config, first)
        assert found is not None
        ledger.register("staged", found.stream)
        yield source, ledger


def test_rows_keep_their_places_in_a_table_of_many_row_groups() -> None:
    """Row i of the relation is row first + i, however DuckDB scans it."""
    create = (
        "CREATE TABLE t AS SELECT 'a' || (i % 7) AS activity_id, 'u' || i AS user_id, "
        "1 AS approve_status, 0 AS signin_status, TIMESTAMP '2025-03-01' + to_seconds(i) "
        "AS signin_time FROM range(300000) AS r(i)"
    )
    with staged_at_scale(create, lambda source: source.table("t"), 10) as (_, ledger):
        (count, misplaced) = ledger.execute(
            "SELECT count(*), count(*) FILTER (WHERE omni_user_uuid <> 'u' || (row_index - 10) "
            "OR ems_signintimestamp <> strftime(TIMESTAMP '2025-03-01 08:00:00' "
            "+ to_seconds(row_index - 10), '%Y-%m-%d %H:%M:%S')) FROM staged"
        ).fetchone()
    assert (count, misplaced) == (300_000, 0)


def test_a_query_s_order_is_the_rows_order() -> None:
    """Row i of an ordered query is its i-th row, as the batch path reads it."""
    create = (
        "CREATE TABLE t AS SELECT 'a' AS activity_id, 'u' || (i * 7919 % 200003) AS user_id, "
        "1 AS approve_status, 0 AS signin_status, NULL::TIMESTAMP AS signin_time "
        "FROM range(200003) AS r(i)"
    )
    query = "SELECT * FROM t ORDER BY user_id DESC"
    with staged_at_scale(create, lambda source: source.sql(query), 0) as (source, ledger):
        staged_order = ledger.execute("SELECT omni_user_uuid FROM staged ORDER BY row_index")
        got = [user for (user,) in staged_order.fetchall()]
        wanted = [user for (user,) in source.sql(query).project("user_id").fetchall()]
    assert got == wanted


#: Zones with a change a year, one of half an hour (Lord Howe), southern ones, none.
ZONES = (
    "UTC",
    "Asia/Shanghai",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Pacific/Apia",
)
#: Instants near the zones' changes (and one of them at the years' edges).
CHANGES = (
    datetime(2025, 3, 9, 7, 0),
    datetime(2025, 11, 2, 6, 0),
    datetime(2025, 3, 30, 1, 0),
    datetime(2025, 10, 26, 1, 0),
    datetime(2025, 4, 5, 15, 0),
    datetime(2025, 10, 4, 15, 30),
    datetime(2018, 2, 18, 2, 0),
    datetime(2011, 12, 30, 10, 0),
    datetime(1970, 1, 1, 0, 0),
    datetime(2036, 12, 31, 23, 0),
    datetime(1987, 4, 12, 18, 0),
)


@st.composite
def times(draw: st.DrawFn) -> str:
    """A time near a change, as SQL: a few hours either side, to the second."""
    moment = draw(st.sampled_from(CHANGES)) + timedelta(
        seconds=draw(st.integers(-4 * 3600, 4 * 3600))
    )
    return "NULL" if draw(st.integers(0, 9)) == 0 else f"'{moment.isoformat(sep=' ')}'"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source_zone=st.sampled_from(ZONES),
    api_zone=st.sampled_from(ZONES),
    kind=st.sampled_from(["TIMESTAMP", "VARCHAR", "TIMESTAMPTZ", "TIMESTAMP_NS"]),
    moments=st.lists(times(), min_size=1, max_size=12),
)
def test_times_near_zone_changes_are_staged_as_the_full_checks_stage_them_or_left_to_them(
    source_zone: str, api_zone: str, kind: str, moments: list[str]
) -> None:
    """Whatever the zones and the times, a relation taken is staged exactly as `rows` does;
    one with a time a change skips or repeats is left to `rows`."""
    config = target_settings(source_timezone=source_zone, api_timezone=api_zone)
    types = TYPES.format(s="INTEGER", t=kind)
    rows = [f"('a1', 'u{k}', 1, 0, {m})" for k, m in enumerate(moments)]
    rows.append("('a1', 'u-last', 1, 0, NULL)")
    expected = reference(types, rows, config)
    found = staged(types, rows, config)
    if any(row["reason"] is not None for row in expected):
        assert found is None
    elif found is not None:
        assert _ordered(found) == _ordered(expected)


def test_a_day_of_a_zone_change_is_taken_when_no_time_falls_in_the_change() -> None:
    """Times before and after New York's spring change, on its day, are converted by each side's
    offset, as `rows` converts them."""
    config = target_settings(source_timezone="America/New_York", api_timezone="Europe/London")
    types = TYPES.format(s="INTEGER", t="TIMESTAMP")
    moments = ["2025-03-09 01:59:59", "2025-03-09 03:00:00", "2025-03-30 00:30:00"]
    rows = [f"('a1', 'u{k}', 1, 0, '{m}')" for k, m in enumerate(moments)]
    found = staged(types, rows, config)
    assert found is not None
    assert _ordered(found) == _ordered(reference(types, rows, config))
    assert [row["ems_signintimestamp"] for row in found] == [
        "2025-03-09 06:59:59",
        "2025-03-09 07:00:00",
        "2025-03-30 05:30:00",
    ]


def test_random_tables_of_good_rows_are_all_taken() -> None:
    """Not only the examples: mixed good rows of every type are staged in DuckDB."""
    rng = random.Random(7)
    config = target_settings(source_timezone="Europe/London")
    for kinds, rows in GOOD.items():
        mixed = [rng.choice(rows).replace("'u", f"'x{k}u") for k in range(50)]
        types = TYPES.format(s=kinds[0], t=kinds[1])
        found = staged(types, mixed, config)
        assert found is not None, kinds
        assert _ordered(found) == _ordered(reference(types, mixed, config))


def test_random_tables_agree_with_the_full_checks_row_for_row() -> None:
    """Wherever a relation is taken, it is staged as the full checks stage it."""
    generator = random.Random(21)
    taken = 0
    for _ in range(80):
        types, rows = random_table(generator)
        config = target_settings(
            source_timezone=generator.choice(["UTC", "America/New_York"]),
            api_timezone=generator.choice(["Asia/Shanghai", "Europe/London"]),
        )
        found = staged(types, rows, config)
        expected = reference(types, rows, config)
        if any(row["reason"] is not None for row in expected):
            assert found is None, rows
        elif found is not None:
            taken += 1
            assert _ordered(found) == _ordered(expected), rows
    assert taken >= 30, "most random tables of good rows are staged in DuckDB"
