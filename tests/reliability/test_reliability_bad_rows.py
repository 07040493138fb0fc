"""Generated bad rows through target-jing: every row gets an outcome and a reason, none crash.

Hypothesis draws rows with wrong types; missing, empty and huge ids; unicode and
control characters (lone surrogates too, which JSON can carry); unknown statuses;
every kind of time value, naive and aware; duplicates, identical and conflicting;
and extra columns. Each example is one run against the sandbox. Afterwards every
row is in the log as applied, unchanged, failed or rejected (failed and rejected
with a reason), and JING changed only what a row that passed the checks asked for.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import count
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from jing_sandbox.process import SandboxProcess
from target_jing.engine import SyncRun
from target_jing.settings import TargetSettings

pytestmark = pytest.mark.slow

SOURCE = "singer:generated"
ROWS_WANTED = 10_000
EXAMPLES = 40
#: Rows a run gets on top of the drawn ones: valid rows with hostile values mixed in.
FILLER_ROWS = 240
STATUS_FIELDS = ("ems_approvestatus", "ems_signinstatus", "ems_signintimestamp")
FIELD_OF = {
    "approve_status": "ems_approvestatus",
    "signin_status": "ems_signinstatus",
    "signin_time": "ems_signintimestamp",
}
TARGET_JING = str(Path(sys.executable).with_name("target-jing"))
#: No pacing on loopback: the runs make a few hundred calls between them.
FAST = {"requests_per_second": 1000}

HOSTILE_IDS: tuple[Any, ...] = (
    "",
    "   ",
    None,
    "x" * 10_000,
    "\x00\x01\x1b[31m",
    "\ud800",
    "名字😀",
    "a\nb",
    "'; DROP TABLE jing_sync_log; --",
    0,
    1.5,
    float("nan"),
    float("inf"),
    True,
    [1],
    {"a": 1},
    10**30,
)
HOSTILE_STATUSES: tuple[Any, ...] = (
    None,
    "",
    " 1 ",
    "3",
    "-1",
    "yes",
    "\uff11",  # a full-width digit one
    1,
    2.0,
    1.5,
    True,
    float("nan"),
    [1],
    {"v": 1},
    "\x00",
    "\ud800",
)
TIME_VALUES: tuple[Any, ...] = (
    "2025-10-01 08:00:00",
    "2025-10-01T08:00:00",
    "2025-10-01T08:00:00Z",
    "2025-10-01T08:00:00+08:00",
    "2025-10-01T08:00:00.123456-05:00",
    "2025-10-01",
    "2025/10/01 08:00:00",
    "10/01/2025",
    "not a time",
    "",
    "2025-02-30 00:00:00",
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59",
    "9999-12-31T23:59:59-10:00",
    1727769600,
    1727769600000,
    -1,
    0,
    1e20,
    float("nan"),
    float("inf"),
    True,
    datetime(2025, 10, 1, 8, 0),
    datetime(2025, 10, 1, 8, 0, tzinfo=UTC),
    datetime(2025, 10, 1, 8, 0, tzinfo=timezone(timedelta(hours=-10))),
    date(2025, 10, 1),
    pd.Timestamp("2025-10-01 08:00:00", tz="Asia/Shanghai"),
    pd.NaT,
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.text(alphabet=st.characters(codec=None, categories=["Cc", "Cs", "Zs", "So"])),
    st.binary(max_size=8),
)
times = st.one_of(
    st.sampled_from(TIME_VALUES),
    st.datetimes(timezones=st.none() | st.timezones()),
    st.dates(),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.text(max_size=30),
)
extra_columns = st.dictionaries(st.text(max_size=12), scalars, max_size=3)


@st.composite
def drawn_row(draw: st.DrawFn, keys: list[tuple[str, str]]) -> dict[str, Any]:
    """A row whose every value may be valid, hostile or absent, with extra columns."""
    activity, user = draw(st.sampled_from(keys))
    row: dict[str, Any] = dict(draw(extra_columns))
    id_names = draw(
        st.sampled_from((("activity_id", "user_id"), ("entity_uuid", "omni_user_uuid")))
    )
    values = {
        id_names[0]: draw(st.one_of(st.just(activity), st.sampled_from(HOSTILE_IDS), scalars)),
        id_names[1]: draw(st.one_of(st.just(user), st.sampled_from(HOSTILE_IDS), scalars)),
        "approve_status": draw(st.one_of(st.sampled_from(("0", "1", "2", 1)), scalars)),
        "signin_status": draw(
            st.one_of(st.sampled_from(("0", "1")), st.sampled_from(HOSTILE_STATUSES))
        ),
        "signin_time": draw(times),
        "approve_time": draw(times),
    }
    for name, value in values.items():
        if draw(st.integers(0, 9)):  # a column left out now and then
            row[name] = value
    return row


def filler_rows(rng: random.Random, keys: list[tuple[str, str]], n: int) -> list[dict[str, Any]]:
    """Mostly valid rows (so that runs send calls), one hostile value in some of them."""
    rows = []
    for _ in range(n):
        activity, user = rng.choice(keys)
        row: dict[str, Any] = {
            "activity_id": activity,
            "user_id": user,
            "approve_status": rng.choice(("0", "1", "2")),
            "signin_status": rng.choice(("0", "1", None)),
            "signin_time": rng.choice((*TIME_VALUES[:6], None)),
        }
        if rng.random() < 0.3:
            column = rng.choice(("activity_id", "user_id", "approve_status", "signin_time"))
            pool = {"signin_time": TIME_VALUES, "approve_status": HOSTILE_STATUSES}
            row[column] = rng.choice(pool.get(column, HOSTILE_IDS))
        rows.append(row)
    return rows


def with_duplicates(rng: random.Random, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Repeat some rows exactly, and some with another approval: both kinds of duplicate."""
    copies = [dict(r) for r in rng.sample(rows, k=min(len(rows), 20))]
    for row in copies[::2]:
        row["approve_status"] = "2" if row.get("approve_status") != "2" else "0"
    mixed = rows + copies
    rng.shuffle(mixed)
    return mixed


def statuses(sandbox: SandboxProcess) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (r["target_entity_uuid"], r["omni_user_uuid"]): {f: r[f] for f in STATUS_FIELDS}
        for r in sandbox.registrations()
    }


def check_run(
    sandbox: SandboxProcess,
    ledger: Path,
    run_id: str,
    rows_in: int,
    before: dict,
    rows_updated: int,
) -> None:
    """Every row logged once, with an outcome and a reason; JING changed only applied rows."""
    with duckdb.connect(str(ledger), read_only=True) as con:
        logged = con.execute(
            "SELECT count(*), count(DISTINCT row_index) FROM jing_sync_log WHERE run_id = ?",
            [run_id],
        ).fetchone()
        outcomes = dict(
            con.execute(
                "SELECT outcome, count(*) FROM jing_sync_log WHERE run_id = ? GROUP BY 1", [run_id]
            ).fetchall()
        )
        unexplained = con.execute(
            "SELECT count(*) FROM jing_sync_log WHERE run_id = ? "
            "AND outcome IN ('failed', 'rejected') AND coalesce(trim(reason), '') = ''",
            [run_id],
        ).fetchone()
        unnamed = con.execute(
            "SELECT count(*) FROM jing_sync_log WHERE run_id = ? AND outcome = 'rejected' "
            "AND NOT starts_with(reason, 'row ' || row_index || ' of ')",
            [run_id],
        ).fetchone()
        applied = con.execute(
            "SELECT DISTINCT entity_uuid, omni_user_uuid, ems_approvestatus, ems_signinstatus, "
            "ems_signintimestamp FROM jing_sync_log WHERE run_id = ? AND outcome = 'applied'",
            [run_id],
        ).fetchall()
    assert logged == (rows_in, rows_in)
    assert set(outcomes) <= {"applied", "unchanged", "failed", "rejected"}
    assert unexplained == (0,) and unnamed == (0,)
    after = statuses(sandbox)
    wanted = {(a, u): dict(zip(STATUS_FIELDS, values, strict=True)) for a, u, *values in applied}
    changed = {key for key, values in after.items() if before.get(key) != values}
    assert changed <= set(wanted), "JING changed a registration no applied row asked for"
    for key, values in wanted.items():
        assert all(v is None or after[key][f] == v for f, v in values.items()), key
    assert sandbox.stats()["rows_updated"] - rows_updated == len(wanted)


def test_ten_thousand_generated_rows_each_end_with_an_outcome_and_a_reason(
    sandbox_factory: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    sandbox = sandbox_factory(activities=4, users=200, registrations=400)
    keys = [(r["target_entity_uuid"], r["omni_user_uuid"]) for r in sandbox.registrations()]
    runs = count()
    total = 0

    # No shrinking: each example is a whole run, and shrinking one took over five minutes.
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(drawn=st.lists(drawn_row(keys), min_size=1, max_size=40), rng=st.randoms())
    def one_run(drawn: list[dict[str, Any]], rng: random.Random) -> None:
        nonlocal total
        rows = with_duplicates(rng, drawn + filler_rows(rng, keys, FILLER_ROWS))
        config = sandbox.config(ledger_path=str(tmp_path / f"ledger-{next(runs)}.duckdb"), **FAST)
        before, rows_updated = statuses(sandbox), sandbox.stats()["rows_updated"]
        with SyncRun(TargetSettings.from_config(config)) as run:
            run.add_records(rows, source=SOURCE)
            summary = run.finish()
        assert summary.status in ("succeeded", "failed") and summary.rows_in == len(rows)
        check_run(
            sandbox, Path(config["ledger_path"]), summary.run_id, len(rows), before, rows_updated
        )
        total += len(rows)

    one_run()
    assert total >= ROWS_WANTED


def test_generated_singer_records_through_the_cli_end_with_a_summary_not_a_traceback(
    sandbox_factory: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """The same kind of rows as Singer messages on stdin of `target-jing` (JSON types only)."""
    sandbox = sandbox_factory(activities=3, users=100, registrations=200)
    keys = [(r["target_entity_uuid"], r["omni_user_uuid"]) for r in sandbox.registrations()]
    rows = with_duplicates(random.Random(6), filler_rows(random.Random(7), keys, 600))
    schema = {
        "type": "object",
        "properties": {name: {"type": ["string", "null"]} for name in ("activity_id", "user_id")},
    }
    messages = [{"type": "SCHEMA", "stream": "wanted", "schema": schema, "key_properties": []}]
    messages += [{"type": "RECORD", "stream": "wanted", "record": _jsonable(r)} for r in rows]
    messages.append({"type": "STATE", "value": {"bookmarks": {"wanted": len(rows)}}})
    config = tmp_path / "config.json"
    ledger = tmp_path / "ledger.duckdb"
    config.write_text(json.dumps(sandbox.config(ledger_path=str(ledger), **FAST)))
    done = subprocess.run(
        [TARGET_JING, "--config", str(config)],
        input="".join(json.dumps(m) + "\n" for m in messages),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == messages[-1]["value"]
    summary = json.loads(done.stderr.strip().splitlines()[-1])
    assert summary["rows_in"] == len(rows)
    assert sum(summary["counts"].values()) == len(rows)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """What JSON can carry: times as ISO text, other odd objects as their text."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        if value is pd.NaT or (isinstance(value, float) and value != value):
            return None
        if isinstance(value, float) and value in (float("inf"), float("-inf")):
            return str(value)
        return value

    return {k: plain(v) for k, v in row.items()}
