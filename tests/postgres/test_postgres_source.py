"""`target-jing sync --postgres URL`: rows from a real PostgreSQL server, against the sandbox."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from pg_server import PASSWORD, PostgresServer

import target_jing.postgres_source as postgres_source
from jing_sandbox.process import SandboxProcess
from target_jing.postgres_source import open_postgres
from target_jing.sources import SourceError

TARGET_JING = str(Path(sys.executable).parent / "target-jing")
BATCH_PATH = "/v1/activity/update/userStatus/batch"


@pytest.fixture
def table(postgres: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh table name in the shared server; dropped after the test."""
    name = f"wanted_{request.node.name[-40:].replace('[', '_').replace(']', '_')}".lower()
    yield name
    with psycopg.connect(postgres.url, autocommit=True) as con:
        con.execute(f'DROP TABLE IF EXISTS "{name}"')


def _wanted(sandbox: SandboxProcess) -> list[dict[str, Any]]:
    """A wish per registration: statuses that mostly differ from the seeded ones."""
    return [
        {
            "activity_id": reg["target_entity_uuid"],
            "user_id": reg["omni_user_uuid"],
            "approve_status": str(1 + i % 2),
            "signin_status": "1" if i % 3 == 0 else "0",
        }
        for i, reg in enumerate(sandbox.registrations())
    ]


def _load(postgres: PostgresServer, table: str, rows: list[dict[str, Any]]) -> None:
    with psycopg.connect(postgres.url, autocommit=True) as con:
        con.execute(
            f'CREATE TABLE "{table}" (activity_id text, user_id text, '
            "approve_status text, signin_status text, note text)"
        )
        with con.cursor().copy(
            f'COPY "{table}" (activity_id, user_id, approve_status, signin_status) FROM STDIN'
        ) as copy:
            for row in rows:
                copy.write_row(list(row.values()))


def _minimum(rows: list[dict[str, Any]]) -> int:
    groups = Counter((r["activity_id"], r["approve_status"], r["signin_status"]) for r in rows)
    return sum(math.ceil(n / 100) for n in groups.values())


def _sync(tmp_path: Path, config: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    return subprocess.run(
        [TARGET_JING, "sync", "--config", str(config_file), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "TARGET_JING_LOGLEVEL": "DEBUG"},
    )


def _summary(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.stdout.strip(), done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _calls(sandbox: SandboxProcess) -> int:
    return sandbox.stats()["calls"].get(BATCH_PATH, 0)


def test_a_postgres_table_is_written_back_with_the_fewest_calls_and_no_password_shown(
    postgres: PostgresServer, table: str, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    rows = _wanted(sandbox)
    _load(postgres, table, rows)
    ledger = tmp_path / "ledger.duckdb"
    config = sandbox.config(ledger_path=str(ledger), requests_per_second=1000)

    first = _sync(tmp_path, config, "--postgres", postgres.url, "--table", table)
    assert first.returncode == 0, first.stderr[-2000:]
    summary = _summary(first)
    assert summary["counts"]["applied"] == len(rows)
    assert summary["update_calls"] == _calls(sandbox) == _minimum(rows)
    held = {(r["target_entity_uuid"], r["omni_user_uuid"]): r for r in sandbox.registrations()}
    for row in rows:
        registration = held[(row["activity_id"], row["user_id"])]
        assert registration["ems_approvestatus"] == row["approve_status"]
        assert registration["ems_signinstatus"] == row["signin_status"]

    again = _sync(tmp_path, config, "--postgres", postgres.url, "--table", table)
    assert again.returncode == 0, again.stderr[-2000:]
    assert _summary(again)["update_calls"] == 0
    assert _calls(sandbox) == _minimum(rows)

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
    rows = _wanted(sandbox)
    _load(postgres, table, rows)
    config = sandbox.config(ledger_path=str(tmp_path / "ledger.duckdb"), requests_per_second=1000)
    activity = rows[0]["activity_id"]
    mine = [r for r in rows if r["activity_id"] == activity]

    done = _sync(
        tmp_path,
        config,
        "--postgres",
        postgres.url,
        "--query",
        f"SELECT * FROM \"{table}\" WHERE activity_id = '{activity}'",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert _summary(done)["rows_in"] == len(mine)

    delete = _sync(
        tmp_path, config, "--postgres", postgres.url, "--query", f'DELETE FROM "{table}"'
    )
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
    _load(postgres, table, _wanted(sandbox)[:10])
    ledger = tmp_path / "ledger.duckdb"
    url, name = change(postgres.url, table)
    done = _sync(
        tmp_path, sandbox.config(ledger_path=str(ledger)), "--postgres", url, "--table", name
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert expected in done.stderr
    assert PASSWORD not in done.stderr + done.stdout
    assert not ledger.exists()
    assert _calls(sandbox) == 0


def test_rows_are_streamed_through_a_server_side_cursor_in_batches(
    postgres: PostgresServer, table: str, sandbox: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _wanted(sandbox)
    _load(postgres, table, rows)
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
