"""`target-jing sync --postgres URL`: rows from a real PostgreSQL server, against the sandbox."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest
from pg_server import PASSWORD, PostgresServer
from writeback import assert_held, calls, load, minimum, summary, sync, wanted

import target_jing.postgres_source as postgres_source
from jing_sandbox.process import SandboxProcess
from target_jing.postgres_source import open_postgres
from target_jing.sources import SourceError


@pytest.fixture
def table(postgres: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh table name in the shared server; dropped after the test."""
    name = f"wanted_{request.node.name[-40:].replace('[', '_').replace(']', '_')}".lower()
    yield name
    with psycopg.connect(postgres.url, autocommit=True) as con:
        con.execute(f'DROP TABLE IF EXISTS "{name}"')


def test_a_postgres_table_is_written_back_with_the_fewest_calls_and_no_password_shown(
    postgres: PostgresServer,
    table: str,
    sandbox: SandboxProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = wanted(sandbox)
    load(postgres, table, rows)
    ledger = tmp_path / "ledger.duckdb"
    config = sandbox.config(ledger_path=str(ledger), requests_per_second=1000)

    first = sync(tmp_path, config, "--postgres", postgres.url, "--table", table)
    assert first.returncode == 0, first.stderr[-2000:]
    told = summary(first)
    assert told["counts"]["applied"] == len(rows)
    assert told["update_calls"] == calls(sandbox) == minimum(rows)
    assert_held(sandbox, rows)

    # The second run takes the URL from a variable (`env:NAME`), so no command line shows it.
    monkeypatch.setenv("JING_TEST_WAREHOUSE_URL", postgres.url)
    again = sync(tmp_path, config, "--postgres", "env:JING_TEST_WAREHOUSE_URL", "--table", table)
    assert again.returncode == 0, again.stderr[-2000:]
    assert summary(again)["update_calls"] == 0
    assert calls(sandbox) == minimum(rows)

    with duckdb.connect(str(ledger), read_only=True) as con:
        sources = {
            s for (s,) in con.execute("SELECT DISTINCT source FROM jing_sync_log").fetchall()
        }
        logged = con.execute("SELECT count(*) FROM jing_sync_log").fetchone()
        text = " ".join(
            str(v) for r in con.execute("SELECT * FROM jing_sync_runs").fetchall() for v in r
        )
    assert sources == {f"postgres:{table}"}
    assert logged == (2 * len(rows),)
    for output in (first.stdout, first.stderr, again.stdout, again.stderr, text, *sources):
        assert PASSWORD not in output


def test_a_query_reads_what_it_selects_and_cannot_change_the_database(
    postgres: PostgresServer, table: str, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    rows = wanted(sandbox)
    load(postgres, table, rows)
    config = sandbox.config(ledger_path=str(tmp_path / "ledger.duckdb"), requests_per_second=1000)
    activity = rows[0]["activity_id"]
    mine = [r for r in rows if r["activity_id"] == activity]

    done = sync(
        tmp_path,
        config,
        "--postgres",
        postgres.url,
        "--query",
        f"SELECT * FROM \"{table}\" WHERE activity_id = '{activity}'",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert summary(done)["rows_in"] == len(mine)

    delete = sync(tmp_path, config, "--postgres", postgres.url, "--query", f'DELETE FROM "{table}"')
    assert delete.returncode == 2
    assert "--query" in delete.stderr
    assert postgres.sql("warehouse", f'SELECT count(*) FROM "{table}"').strip() == str(len(rows))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda url, table: (url.replace(PASSWORD, "wrong-password"), table), "cannot connect"),
        (lambda url, table: (url, "no_such_table"), "no table or view named 'no_such_table'"),
        (lambda url, table: ("postgresql://[bad", table), "--postgres"),
    ],
    ids=["wrong password", "unknown table", "bad URL"],
)
def test_a_source_that_cannot_be_read_stops_before_the_ledger_with_exit_2(
    postgres: PostgresServer,
    table: str,
    sandbox: SandboxProcess,
    tmp_path: Path,
    change: Callable[[str, str], tuple[str, str]],
    expected: str,
) -> None:
    load(postgres, table, wanted(sandbox)[:10])
    ledger = tmp_path / "ledger.duckdb"
    url, name = change(postgres.url, table)
    done = sync(
        tmp_path, sandbox.config(ledger_path=str(ledger)), "--postgres", url, "--table", name
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert expected in done.stderr
    assert PASSWORD not in done.stderr + done.stdout
    assert not ledger.exists()
    assert calls(sandbox) == 0


def test_rows_are_streamed_through_a_server_side_cursor_in_batches(
    postgres: PostgresServer, table: str, sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = wanted(sandbox)
    load(postgres, table, rows)
    monkeypatch.setattr(postgres_source, "BATCH_ROWS", 64)
    with open_postgres(postgres.url, table=table) as opened:
        first = next(opened.batches)
        # What our session does now, as the server sees it: fetching from the named cursor.
        activity = postgres.sql(
            "warehouse",
            "SELECT query FROM pg_stat_activity WHERE query ILIKE '%jing_status_rows%' "
            "AND pid <> pg_backend_pid()",
        )
        sizes = [len(first), *(len(batch) for batch in opened.batches)]
    assert opened.columns[:4] == ["activity_id", "user_id", "approve_status", "signin_status"]
    assert opened.label == f"postgres:{table}"
    assert sum(sizes) == len(rows) and max(sizes) == 64 and len(sizes) == math.ceil(len(rows) / 64)
    assert "FETCH" in activity.upper(), activity
    assert first["user_id"].tolist() == [r["user_id"] for r in rows[:64]]


def test_a_query_that_does_not_run_is_a_source_error_without_the_password(
    postgres: PostgresServer,
) -> None:
    with pytest.raises(SourceError) as caught, open_postgres(postgres.url, query="SELECT nope"):
        pass
    assert "--query does not run" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_values_python_cannot_hold_are_refused_row_by_row_and_the_rest_applied(
    postgres: PostgresServer, table: str, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """Typed columns as a warehouse has them: integer and numeric statuses, a timestamptz
    and a date. 'infinity' (which psycopg cannot make a datetime of) and a fractional
    status are refused for their row alone; the rest is written back."""
    registrations = sandbox.registrations()[:12]
    bad = {
        registrations[0]["omni_user_uuid"]: ("1", "infinity", "2025-10-01"),
        registrations[1]["omni_user_uuid"]: ("1", "-infinity", "2025-10-01"),
        registrations[2]["omni_user_uuid"]: ("1", "2025-10-01 08:00:00+00", "infinity"),
        registrations[3]["omni_user_uuid"]: ("1.5", "2025-10-01 08:00:00+00", "2025-10-01"),
    }
    with psycopg.connect(postgres.url, autocommit=True) as con:
        con.execute(
            f'CREATE TABLE "{table}" (activity_id text, user_id text, signin_status integer, '
            "approve_status numeric, signin_time timestamptz, approve_time date)"
        )
        for reg in registrations:
            values = bad.get(reg["omni_user_uuid"], ("2.0", "2025-10-01 08:00:00+00", "2025-10-02"))
            con.execute(
                f'INSERT INTO "{table}" VALUES (%s, %s, 1, %s, %s, %s)',
                [reg["target_entity_uuid"], reg["omni_user_uuid"], *values],
            )
    config = sandbox.config(
        ledger_path=str(tmp_path / "ledger.duckdb"), requests_per_second=1000, max_failed_ratio=1.0
    )

    done = sync(tmp_path, config, "--postgres", postgres.url, "--table", table)

    assert "Traceback" not in done.stderr
    told = summary(done)
    assert told["counts"]["rejected"] == len(bad), done.stderr[-3000:]
    assert told["counts"]["applied"] == len(registrations) - len(bad)
    with duckdb.connect(str(tmp_path / "ledger.duckdb"), read_only=True) as con:
        reasons = dict(
            con.execute(
                "SELECT omni_user_uuid, reason FROM jing_sync_log WHERE outcome = 'rejected'"
            ).fetchall()
        )
    assert set(reasons) == set(bad)
    for user, values in bad.items():
        assert any(f"'{v}'" in reasons[user] for v in values), reasons[user]
    held = {(r["target_entity_uuid"], r["omni_user_uuid"]): r for r in sandbox.registrations()}
    for reg in registrations:
        if reg["omni_user_uuid"] not in bad:
            now = held[(reg["target_entity_uuid"], reg["omni_user_uuid"])]
            assert now["ems_approvestatus"] == "2"
            assert now["ems_signintimestamp"] == "2025-10-01 16:00:00"
            assert now["ems_approvetimestamp"] == "2025-10-02 08:00:00"  # a UTC date, in +08:00
