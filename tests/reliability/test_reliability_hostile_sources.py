"""Hostile sources for `target-jing sync`: SQL meta-characters, locked and corrupt DuckDB files,
a CSV with broken quoting. Each is read safely or refused with one message; never a traceback,
and the warehouse is never changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from jing_sandbox.process import SandboxProcess
from jing_singer import exit_codes

TARGET_JING = str(Path(sys.executable).with_name("target-jing"))
HOSTILE_TABLE = 'x"; DROP TABLE decisions; --'
ANY_ROW = {"type": "object", "properties": {}}
#: Holds a read-write connection to a DuckDB file (its lock) until stdin closes.
HOLDER = (
    "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('locked', flush=True); "
    "sys.stdin.read()"
)


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., SandboxProcess]) -> SandboxProcess:
    return sandbox_factory(activities=2, users=40, registrations=40)


@pytest.fixture
def warehouse(sandbox: SandboxProcess, tmp_path: Path) -> Path:
    """`decisions` and a table whose name is an injection attempt, ten rows each."""
    path = tmp_path / "warehouse.duckdb"
    rows = [
        (r["target_entity_uuid"], r["omni_user_uuid"], "1", "'; DROP TABLE decisions; --")
        for r in sandbox.registrations()[:10]
    ]
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE decisions (activity_id VARCHAR, user_id VARCHAR, "
            "approve_status VARCHAR, note VARCHAR)"
        )
        con.executemany("INSERT INTO decisions VALUES (?, ?, ?, ?)", rows)
        quoted = '"' + HOSTILE_TABLE.replace('"', '""') + '"'
        con.execute(f"CREATE TABLE {quoted} AS SELECT * FROM decisions")
    return path


def sync(sandbox: SandboxProcess, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(sandbox.config(ledger_path=str(tmp_path / "ledger.duckdb"))))
    done = subprocess.run(
        [TARGET_JING, "sync", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done


def refused(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == exit_codes.BAD_INPUT, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert "| ERROR" in last and all(w in last for w in words), last


def decisions_intact(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM decisions").fetchone() == (10,)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Another process holds `path` open for writing (and so its lock) inside the block."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.communicate(timeout=30)


def test_a_table_name_with_sql_meta_characters_is_only_a_name(
    sandbox: SandboxProcess, warehouse: Path, tmp_path: Path
) -> None:
    done = sync(sandbox, tmp_path, "--duckdb", str(warehouse), "--table", HOSTILE_TABLE)
    assert done.returncode == exit_codes.OK, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1])["counts"]["applied"] == 10
    missing = sync(
        sandbox, tmp_path, "--duckdb", str(warehouse), "--table", "nope; DROP TABLE decisions"
    )
    refused(missing, "--table", "no table or view named")
    decisions_intact(warehouse)


@pytest.mark.parametrize(
    "query", ["SELECT * FROM decisions; DROP TABLE decisions", "DROP TABLE decisions"]
)
def test_a_query_that_would_change_the_warehouse_is_refused(
    query: str, sandbox: SandboxProcess, warehouse: Path, tmp_path: Path
) -> None:
    refused(sync(sandbox, tmp_path, "--duckdb", str(warehouse), "--query", query), "--query")
    decisions_intact(warehouse)


def test_quotes_and_comment_marks_inside_a_query_are_data(
    sandbox: SandboxProcess, warehouse: Path, tmp_path: Path
) -> None:
    query = "SELECT * FROM decisions WHERE note = '''; DROP TABLE decisions; --'"
    done = sync(sandbox, tmp_path, "--duckdb", str(warehouse), "--query", query)
    assert done.returncode == exit_codes.OK, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1])["rows_in"] == 10
    decisions_intact(warehouse)


def test_a_warehouse_locked_by_another_process_is_one_message(
    sandbox: SandboxProcess, warehouse: Path, tmp_path: Path
) -> None:
    with locked(warehouse):
        done = sync(sandbox, tmp_path, "--duckdb", str(warehouse), "--table", "decisions")
    refused(done, str(warehouse), "lock")


def test_a_ledger_locked_by_another_run_is_one_message_and_the_next_run_works(
    sandbox: SandboxProcess, warehouse: Path, tmp_path: Path
) -> None:
    duckdb.connect(str(tmp_path / "ledger.duckdb")).close()
    reg = sandbox.registrations()[0]
    record = {"activity_id": reg["target_entity_uuid"], "user_id": reg["omni_user_uuid"]}
    singer = [
        {"type": "SCHEMA", "stream": "s", "schema": ANY_ROW, "key_properties": []},
        {"type": "RECORD", "stream": "s", "record": {**record, "approve_status": "1"}},
    ]
    with locked(tmp_path / "ledger.duckdb"):
        done = sync(sandbox, tmp_path, "--duckdb", str(warehouse), "--table", "decisions")
        as_target = subprocess.run(
            [TARGET_JING, "--config", str(tmp_path / "config.json")],
            input="".join(json.dumps(m) + "\n" for m in singer),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    for proc in (done, as_target):
        assert proc.returncode == exit_codes.BAD_INPUT, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr
        assert "ledger" in proc.stderr.strip().splitlines()[-1]
    again = sync(sandbox, tmp_path, "--duckdb", str(warehouse), "--table", "decisions")
    assert again.returncode == exit_codes.OK, again.stderr[-2000:]


@pytest.mark.parametrize("damage", ["random bytes", "cut short"])
def test_a_corrupt_warehouse_is_one_message(
    damage: str, sandbox: SandboxProcess, warehouse: Path, tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.duckdb"
    data = warehouse.read_bytes()
    corrupt.write_bytes(
        os.urandom(len(data)) if damage == "random bytes" else data[: len(data) // 3]
    )
    done = sync(sandbox, tmp_path, "--duckdb", str(corrupt), "--table", "decisions")
    refused(done, str(corrupt))


def test_a_csv_with_broken_quoting_is_read_row_by_row_or_refused(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    first, second = sandbox.registrations()[:2]
    broken = tmp_path / "broken.csv"
    broken.write_text(
        "activity_id,user_id,approve_status\n"
        f'"{first["target_entity_uuid"]},{first["omni_user_uuid"]},1\n'
        f'{second["target_entity_uuid"]},"{second["omni_user_uuid"]}"x",2\n'
        'unterminated,"quote,1\n'
    )
    done = sync(sandbox, tmp_path, "--file", str(broken))
    if done.returncode == exit_codes.BAD_INPUT:
        refused(done, str(broken))
        return
    summary = json.loads(done.stdout.splitlines()[-1])
    assert sum(summary["counts"].values()) == summary["rows_in"] > 0


@pytest.mark.parametrize(
    "line",
    [
        "not json at all",
        '{"type": "RECORD", "stream": "s", "record": {"activity_id": "a"',
        '{"type": "SCHEMA", "stream": "s", "schema": {"type": "object"}, "key_properties": []}',
    ],
)
def test_a_broken_singer_line_is_one_message(
    line: str, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(sandbox.config(ledger_path=str(tmp_path / "ledger.duckdb"))))
    schema = {"type": "SCHEMA", "stream": "s", "schema": ANY_ROW, "key_properties": []}
    done = subprocess.run(
        [TARGET_JING, "--config", str(config)],
        input=json.dumps(schema) + "\n" + line + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == exit_codes.BAD_INPUT, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "Bad input" in done.stderr.strip().splitlines()[-1]
