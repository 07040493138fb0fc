"""The ledger in PostgreSQL (`ledger_url`): same guarantees as the file, runs kept apart by locks.

Rows come from PostgreSQL (`sync --postgres`) and the ledger is a schema of the
same real server, so nothing of a run is written to the local disk.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from pg_server import PASSWORD, PostgresServer
from writeback import (
    assert_held,
    calls,
    load,
    minimum,
    summary,
    sync,
    sync_command,
    wanted,
)

from bench.chaos_sequences import change_in_jing, extract
from jing_sandbox.process import SandboxProcess
from target_jing.ledger import Ledger, destination_of, now
from target_jing.ledger_home import LedgerHome
from target_jing.plan import anything_to_send, iter_chunks
from target_jing.shards import Shard


@pytest.fixture
def schema(postgres: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A ledger schema of this test's own in the shared server; dropped after.

    Its name has capitals, which PostgreSQL keeps only where a name is quoted: every
    statement of the ledger must quote it.
    """
    name = "Led_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[-50:]
    yield name
    with psycopg.connect(postgres.url, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _config(sandbox: SandboxProcess, postgres: PostgresServer, schema: str, **more: Any) -> dict:
    return sandbox.config(
        ledger_url=postgres.url, ledger_schema=schema, requests_per_second=1000, **more
    )


def _prepared(
    postgres: PostgresServer, sandbox: SandboxProcess, schema: str, **more: Any
) -> tuple[list[dict[str, Any]], dict[str, Any], tuple[str, ...]]:
    """The sandbox's wishes in a table of their own: the rows, the config and the source flags."""
    rows = wanted(sandbox)
    load(postgres, f"wanted_{schema}", rows)
    source = ("--postgres", postgres.url, "--table", f"wanted_{schema}")
    return rows, _config(sandbox, postgres, schema, **more), source


def _ledger_rows(postgres: PostgresServer, schema: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(postgres.url) as con:
        return con.execute(sql.replace("{s}", f'"{schema}"')).fetchall()


def _no_local_ledger(folder: Path) -> None:
    assert not [p for p in folder.rglob("*.duckdb*")], list(folder.rglob("*"))


def test_a_postgres_ledger_reaches_the_wanted_state_with_the_fewest_calls_then_makes_none(
    postgres: PostgresServer, sandbox: SandboxProcess, schema: str, tmp_path: Path
) -> None:
    rows, config, source = _prepared(postgres, sandbox, schema)

    first = sync(tmp_path, config, *source)
    assert first.returncode == 0, first.stderr[-2000:]
    told = summary(first)
    assert told["counts"]["applied"] == len(rows)
    assert told["update_calls"] == calls(sandbox) == minimum(rows)
    assert_held(sandbox, rows)

    again = sync(tmp_path, config, *source)
    assert again.returncode == 0, again.stderr[-2000:]
    assert summary(again)["update_calls"] == 0
    assert summary(again)["counts"]["unchanged"] == len(rows)
    assert calls(sandbox) == minimum(rows)

    # The run gave PostgreSQL's planner the statistics of what it wrote in bulk: with the
    # stale ones of empty tables, it joined 100,000 staged rows row by row, for minutes.
    with psycopg.connect(postgres.url) as con:
        analyzed = {
            name
            for (name,) in con.execute(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = %s "
                "AND last_analyze IS NOT NULL",
                [schema],
            )
        }
    assert {"jing_staged", "jing_work", "jing_sync_log"} <= analyzed

    # A row per input row of each run, in PostgreSQL; nothing left in the working tables.
    per_run = _ledger_rows(
        postgres, schema, "SELECT run_id, count(*) FROM {s}.jing_sync_log GROUP BY 1 ORDER BY 1"
    )
    assert [count for _, count in per_run] == [len(rows), len(rows)]
    assert [r[0] for r in per_run] == [told["run_id"], summary(again)["run_id"]]
    known = _ledger_rows(postgres, schema, "SELECT count(*) FROM {s}.jing_applied_status")
    assert known == [(len(rows),)]
    for table in ("jing_staged", "jing_work", "jing_calls", "jing_observed"):
        assert _ledger_rows(postgres, schema, f"SELECT count(*) FROM {{s}}.{table}") == [(0,)]
    runs = _ledger_rows(postgres, schema, "SELECT * FROM {s}.jing_sync_runs")
    assert [r[4] for r in runs] == ["succeeded", "succeeded"]
    ledger_text = " ".join(str(v) for r in runs for v in r)
    for output in (first.stdout, first.stderr, again.stdout, again.stderr, ledger_text):
        assert PASSWORD not in output
    assert "schema " + schema in told["ledger_path"]
    # The log grows with every run: a run's rows are found in it by an index.
    indexes = _ledger_rows(
        postgres, schema, f"SELECT indexname FROM pg_indexes WHERE schemaname = '{schema}'"
    )
    assert {"jing_sync_log_run", "jing_sync_runs_run"} <= {i for (i,) in indexes}
    _no_local_ledger(tmp_path)


def test_a_run_killed_while_sending_is_finished_by_the_next_one(
    postgres: PostgresServer,
    sandbox_factory: Any,
    schema: str,
    tmp_path: Path,
) -> None:
    sandbox = sandbox_factory(latency_ms=40)
    rows, config, source = _prepared(postgres, sandbox, schema, batch_size=10, max_concurrency=1)

    killed = subprocess.Popen(
        sync_command(tmp_path, config, *source, name="-killed"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while calls(sandbox) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert 5 <= calls(sandbox) < minimum(rows), "the run was not killed while sending"

    after = sync(tmp_path, _config(sandbox, postgres, schema), *source)
    assert after.returncode == 0, after.stderr[-2000:]
    assert_held(sandbox, rows)
    runs = dict(
        _ledger_rows(postgres, schema, "SELECT status, count(*) FROM {s}.jing_sync_runs GROUP BY 1")
    )
    assert runs == {"aborted": 1, "succeeded": 1}
    fatal = _ledger_rows(
        postgres, schema, "SELECT fatal_error FROM {s}.jing_sync_runs WHERE status = 'aborted'"
    )
    assert summary(after)["run_id"] in fatal[0][0]
    assert _ledger_rows(postgres, schema, "SELECT count(*) FROM {s}.jing_staged") == [(0,)]
    # No registration is left pending: the run after the kill settled every one.
    assert _ledger_rows(postgres, schema, "SELECT count(*) FROM {s}.jing_pending") == [(0,)]
    _no_local_ledger(tmp_path)


def test_ledger_path_and_ledger_url_together_stop_the_run_before_any_call(
    postgres: PostgresServer, sandbox: SandboxProcess, schema: str, tmp_path: Path
) -> None:
    load(postgres, f"wanted_{schema}", wanted(sandbox)[:5])
    config = _config(sandbox, postgres, schema, ledger_path=str(tmp_path / "l.duckdb"))
    done = sync(tmp_path, config, "--postgres", postgres.url, "--table", f"wanted_{schema}")
    assert done.returncode == 2
    assert "'ledger_path' and 'ledger_url' cannot both be set" in done.stderr
    assert PASSWORD not in done.stderr + done.stdout
    assert calls(sandbox) == 0


def test_an_unreachable_ledger_database_is_exit_2_without_the_password(
    postgres: PostgresServer, sandbox: SandboxProcess, schema: str, tmp_path: Path
) -> None:
    load(postgres, f"wanted_{schema}", wanted(sandbox)[:5])
    config = _config(sandbox, postgres, schema)
    config["ledger_url"] = postgres.url.replace(f":{postgres.port}/", ":1/")
    done = sync(tmp_path, config, "--postgres", postgres.url, "--table", f"wanted_{schema}")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "ledger_url" in done.stderr
    assert PASSWORD not in done.stderr + done.stdout
    assert calls(sandbox) == 0


def _hold(postgres: PostgresServer, schema: str, sandbox: SandboxProcess, shard: Any) -> Ledger:
    """Hold the ledger as a live run would (a run of `shard`, None: not sharded)."""
    home = LedgerHome(url=postgres.url, schema=schema, lock_wait_seconds=0.2)
    return Ledger(home, destination_of(sandbox.url, sandbox.app_id), shard)


@pytest.mark.parametrize(
    ("held", "asked", "expected"),
    [
        (None, None, "another run is writing back"),
        (None, "2/3", "a run that is not sharded is writing back"),
        ("2/3", "2/3", "another run of shard 2/3 is writing back"),
        ("2/3", None, "another run is writing back"),
        ("1/2", "1/3", "shards of another count (2)"),
    ],
    ids=["unsharded twice", "shard beside unsharded", "one shard twice", "unsharded", "counts"],
)
def test_runs_that_would_overlap_on_one_destination_are_refused_by_a_lock(
    postgres: PostgresServer,
    sandbox: SandboxProcess,
    schema: str,
    tmp_path: Path,
    held: str | None,
    asked: str | None,
    expected: str,
) -> None:
    load(postgres, f"wanted_{schema}", wanted(sandbox)[:20])
    holder = _hold(postgres, schema, sandbox, None if held is None else Shard.parse(held))
    try:
        config = _config(sandbox, postgres, schema, ledger_lock_wait_seconds=0.5)
        shard = () if asked is None else ("--shard", asked)
        done = sync(
            tmp_path, config, "--postgres", postgres.url, "--table", f"wanted_{schema}", *shard
        )
    finally:
        holder.close()
    assert done.returncode == 2, done.stderr[-2000:]
    assert expected in done.stderr
    assert calls(sandbox) == 0
    # Once the holder is gone, the same run goes through.
    retry = sync(
        tmp_path, config, "--postgres", postgres.url, "--table", f"wanted_{schema}", *shard
    )
    assert retry.returncode == 0, retry.stderr[-2000:]


def test_shards_of_one_count_share_the_ledger_and_a_dead_shard_is_settled_by_a_live_one(
    postgres: PostgresServer, sandbox: SandboxProcess, schema: str, tmp_path: Path
) -> None:
    rows, config, source = _prepared(postgres, sandbox, schema)
    # Shard 1/2 holds its locks (alive) while shard 2/2 runs: both at once.
    holder = _hold(postgres, schema, sandbox, Shard(1, 2))
    try:
        holder.start_run("19990101T000000000000-live", "normal", now())
        second = sync(tmp_path, config, *source, "--shard", "2/2")
        assert second.returncode == 0, second.stderr[-2000:]
        # The live shard's unfinished run is not taken for a dead one.
        assert _status(postgres, schema, "19990101T000000000000-live") == "running"
    finally:
        holder.close()
    # Its process gone, the next run of another shard settles it.
    third = sync(tmp_path, config, *source, "--shard", "2/2")
    assert third.returncode == 0, third.stderr[-2000:]
    assert _status(postgres, schema, "19990101T000000000000-live") == "aborted"
    first = sync(tmp_path, config, *source, "--shard", "1/2")
    assert first.returncode == 0, first.stderr[-2000:]
    assert_held(sandbox, rows)
    shards = _ledger_rows(
        postgres, schema, "SELECT DISTINCT shard FROM {s}.jing_sync_runs ORDER BY 1"
    )
    assert shards == [("1/2",), ("2/2",)]


def test_a_shard_run_that_ends_as_its_lock_is_tried_is_not_taken_for_dead(
    postgres: PostgresServer, sandbox: SandboxProcess, schema: str
) -> None:
    """Shard 2/2 reads shard 1/2's run as running; that run then ends and lets its lock
    go before 2/2 tries the lock. The lock is free, but the run is not dead: it ended."""
    run_id = "19990101T000000000000-ends"
    live = _hold(postgres, schema, sandbox, Shard(1, 2))
    live.start_run(run_id, "normal", now())
    checker = _hold(postgres, schema, sandbox, Shard(2, 2))
    locks = checker._locks
    assert locks is not None
    holds_alone = locks.holds_alone

    def ends_first(other: Shard) -> bool:
        with psycopg.connect(postgres.url, autocommit=True) as con:
            con.execute(
                f"UPDATE \"{schema}\".jing_sync_runs SET status = 'succeeded' WHERE run_id = %s",
                [run_id],
            )
        live.close()
        return holds_alone(other)

    locks.holds_alone = ends_first  # type: ignore[method-assign]
    try:
        with checker.dead_runs(but="19990101T000000000001-mine") as dead:
            assert dead == []
    finally:
        checker.close()
    assert _status(postgres, schema, run_id) == "succeeded"


def _status(postgres: PostgresServer, schema: str, run_id: str) -> str:
    rows = _ledger_rows(
        postgres, schema, f"SELECT status FROM {{s}}.jing_sync_runs WHERE run_id = '{run_id}'"
    )
    return rows[0][0]


def test_runs_and_pending_commands_read_the_postgres_ledger(
    postgres: PostgresServer, sandbox: SandboxProcess, schema: str, tmp_path: Path
) -> None:
    rows = wanted(sandbox)[:30]
    load(postgres, f"wanted_{schema}", rows)
    sandbox.faults(path="/v1/activity/update/userStatus/batch", code_50000=1.0)
    config = _config(sandbox, postgres, schema, max_failed_ratio=1, max_attempts=1)
    done = sync(tmp_path, config, "--postgres", postgres.url, "--table", f"wanted_{schema}")
    assert done.returncode == 0, done.stderr[-2000:]
    config_file = tmp_path / "config.json"

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sync_command(tmp_path, config)[0], *args, "--config", str(config_file)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert PASSWORD not in done.stdout + done.stderr
        return done

    assert summary(done)["run_id"] in command("runs").stdout
    listed = command("pending", "list", "--format", "json").stdout.splitlines()
    assert {json.loads(line)["omni_user_uuid"] for line in listed} == {r["user_id"] for r in rows}
    retried = command("pending", "retry", "--user", rows[0]["user_id"])
    assert retried.stdout.startswith("1 pending rows back to pending")
    actions = _ledger_rows(
        postgres, schema, "SELECT action, omni_user_uuid FROM {s}.jing_pending_actions"
    )
    assert actions == [("retry", rows[0]["user_id"])]


def test_chunks_are_read_whole_and_in_order_whatever_order_postgres_keeps_the_rows(
    postgres: PostgresServer, sandbox: SandboxProcess, schema: str
) -> None:
    """A PostgreSQL table has no order: chunks written out of order are read in chunk order."""
    home = LedgerHome(url=postgres.url, schema=schema)
    ledger = Ledger(home, destination_of(sandbox.url, sandbox.app_id))
    try:
        with ledger.transaction() as con:
            for chunk in (2, 0, 1):
                con.execute(
                    "INSERT INTO jing_work VALUES ('r1', ?, ?, '1', '1', NULL, NULL, 3, ?)",
                    [chunk, f"a{chunk}", [f"u{chunk}-{user}" for user in range(3)]],
                )
        reader = ledger.cursor()
        chunks = list(iter_chunks(reader, "r1", home))
        reader.close()
    finally:
        ledger.close()
    assert [c.chunk_id for c in chunks] == [0, 1, 2]
    assert [c.user_ids for c in chunks] == [[f"u{k}-{u}" for u in range(3)] for k in range(3)]
    assert [c.input_rows for c in chunks] == [3, 3, 3]


def test_the_check_for_anything_to_send_compares_no_row_with_each_other_on_postgres(
    postgres: PostgresServer, sandbox: SandboxProcess, schema: str
) -> None:
    """Every wanted row unchanged (a no-op re-run): PostgreSQL must not plan the check as
    an anti-join row by row. Asked with EXISTS, it did, planning for a first row soon
    found, which never came: a no-op re-run of 100,000 rows took 349 s."""
    home = LedgerHome(url=postgres.url, schema=schema)
    ledger = Ledger(home, destination_of(sandbox.url, sandbox.app_id))
    asked: list[tuple[str, Any]] = []

    class Recorded:
        def execute(self, sql: str, params: Any = None) -> Any:
            asked.append((sql, params))
            return ledger.con.execute(sql, params)

    try:
        with ledger.transaction() as con:
            con.execute(
                "INSERT INTO jing_staged (run_id, row_index, source, entity_uuid, omni_user_uuid) "
                "SELECT 'r1', i, 'input', 'a' || (i / 100), 'u' || i "
                "FROM generate_series(0, 19999) AS i"
            )
        ledger.refresh_statistics("jing_staged")
        for table, rows in (("unchanged_keys", ""), ("refused_keys", " WHERE false")):
            ledger.con.execute(
                f"CREATE TEMP TABLE {table} AS SELECT entity_uuid, omni_user_uuid "
                f"FROM jing_staged{rows}"
            )
        assert not anything_to_send(Recorded(), "r1", compare=True)  # type: ignore[arg-type]
        assert anything_to_send(Recorded(), "r1", compare=False)  # type: ignore[arg-type]
        (sql, params), _ = asked
        plan = "\n".join(row[0] for row in ledger.con.execute(f"EXPLAIN {sql}", params).fetchall())
    finally:
        ledger.close()
    assert "Anti Join" in plan and "Nested Loop" not in plan, plan


def test_a_version_4_plan_of_a_row_per_input_row_is_regrouped_per_chunk_on_postgres(
    postgres: PostgresServer, sandbox: SandboxProcess, schema: str
) -> None:
    """Schema 5's upgrade runs in PostgreSQL's SQL too: a dead run's row-per-user plan
    becomes one row per chunk, each user once and in order, its input rows counted."""
    home = LedgerHome(url=postgres.url, schema=schema)
    Ledger(home, destination_of(sandbox.url, sandbox.app_id)).close()
    with psycopg.connect(postgres.url) as con:  # as version 4 left it
        con.execute(f'SET search_path TO "{schema}"')
        con.execute("DROP TABLE jing_work")
        con.execute(
            "CREATE TABLE jing_work (run_id VARCHAR NOT NULL, chunk_id BIGINT NOT NULL, "
            "row_index BIGINT NOT NULL, source VARCHAR NOT NULL, entity_uuid VARCHAR NOT NULL, "
            "omni_user_uuid VARCHAR NOT NULL, ems_signinstatus VARCHAR, ems_approvestatus "
            "VARCHAR, ems_signintimestamp VARCHAR, ems_approvetimestamp VARCHAR)"
        )
        con.execute("CREATE INDEX jing_work_chunk ON jing_work (run_id, chunk_id)")
        planned = [(1, "b", "u3"), (0, "a", "u2"), (0, "a", "u1"), (0, "a", "u2"), (1, "b", "u4")]
        for index, (chunk, activity, user) in enumerate(planned):
            con.execute(
                "INSERT INTO jing_work VALUES "
                "('r1', %s, %s, 'input', %s, %s, '1', NULL, NULL, NULL)",
                [chunk, index, activity, user],
            )
        con.execute("UPDATE jing_schema_version SET version = 4")
    ledger = Ledger(home, destination_of(sandbox.url, sandbox.app_id))
    try:
        reader = ledger.cursor()
        chunks = list(iter_chunks(reader, "r1", home))
        reader.close()
    finally:
        ledger.close()
    assert [(c.chunk_id, c.entity_uuid, c.user_ids, c.input_rows) for c in chunks] == [
        (0, "a", ["u1", "u2"], 3),
        (1, "b", ["u3", "u4"], 2),
    ]
    assert [c.fields for c in chunks] == [{"ems_signinstatus": "1"}] * 2
    versions = _ledger_rows(postgres, schema, "SELECT max(version) FROM {s}.jing_schema_version")
    assert versions == [(5,)]


def _readme_queries() -> list[str]:
    """The SQL block of docs/LEDGER.md's "Querying the ledger", one statement each."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "LEDGER.md").read_text()
    section = text[text.index("## Querying the ledger") :]
    start = section.index("```sql") + len("```sql")
    block = section[start : section.index("```", start)]
    return [part.strip() for part in block.split(";") if part.strip()]


def test_the_documented_ledger_queries_run_on_both_engines(
    postgres: PostgresServer, sandbox: SandboxProcess, schema: str, tmp_path: Path
) -> None:
    _, config, source = _prepared(postgres, sandbox, schema)
    sandbox.faults(path="/v1/activity/update/userStatus/batch", code_50000=0.3)
    on_postgres = sync(tmp_path, {**config, "max_failed_ratio": 1}, *source)
    file_config = sandbox.config(ledger_path=str(tmp_path / "l.duckdb"), max_failed_ratio=1)
    on_file = sync(tmp_path, file_config, *source)
    assert on_postgres.returncode == on_file.returncode == 0, on_file.stderr[-2000:]
    queries = _readme_queries()
    assert len(queries) == 3
    with psycopg.connect(postgres.url) as con:
        con.execute(f'SET search_path TO "{schema}"')
        from_postgres = [con.execute(q).fetchall() for q in queries]
    with duckdb.connect(str(tmp_path / "l.duckdb"), read_only=True) as con:
        from_file = [con.execute(q).fetchall() for q in queries]
    assert from_postgres[0] and from_file[0]
    assert (
        from_postgres[0][0][1] == from_file[0][0][1] == destination_of(sandbox.url, sandbox.app_id)
    )


def test_the_singer_target_keeps_its_ledger_in_postgres_too(
    postgres: PostgresServer, sandbox: SandboxProcess, schema: str, tmp_path: Path
) -> None:
    rows = wanted(sandbox)[:150]
    schema_message = {
        "type": "SCHEMA",
        "stream": "status_rows",
        "schema": {"type": "object", "properties": {k: {"type": "string"} for k in rows[0]}},
        "key_properties": [],
    }
    lines = [schema_message] + [
        {"type": "RECORD", "stream": "status_rows", "record": row} for row in rows
    ]
    lines.append({"type": "STATE", "value": {"done": len(rows)}})
    command = sync_command(tmp_path, _config(sandbox, postgres, schema))
    done = subprocess.run(
        [command[0], *command[2:4]],  # target-jing --config FILE: the Singer target
        input="".join(json.dumps(line) + "\n" for line in lines),
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"done": len(rows)}
    assert_held(sandbox, rows)
    logged = _ledger_rows(postgres, schema, "SELECT DISTINCT source FROM {s}.jing_sync_log")
    assert logged == [("singer:status_rows",)]
    assert calls(sandbox) == minimum(rows)
    _no_local_ledger(tmp_path)


def test_sqlalchemy_style_urls_serve_the_source_and_the_ledger(
    postgres: PostgresServer, sandbox: SandboxProcess, schema: str, tmp_path: Path
) -> None:
    """One URL for every step: Meltano and target-postgres take `postgresql+psycopg://`."""
    url = postgres.url.replace("postgresql://", "postgresql+psycopg://")
    rows = wanted(sandbox)[:40]
    load(postgres, f"wanted_{schema}", rows)
    config = {**_config(sandbox, postgres, schema), "ledger_url": url}
    done = sync(tmp_path, config, "--postgres", url, "--table", f"wanted_{schema}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert summary(done)["counts"]["applied"] == len(rows)
    assert summary(done)["ledger_path"].startswith("postgresql://jing@127.0.0.1:")
    assert PASSWORD not in done.stdout + done.stderr


def _extract_into_postgres(sandbox: SandboxProcess, postgres: PostgresServer, schema: str) -> None:
    """raw.activity_users as tap-jing loads it (bench.chaos_sequences.extract), in PostgreSQL."""
    folder = Path(tempfile.mkdtemp())
    try:
        extract(sandbox, folder / "w.duckdb")
        with duckdb.connect(str(folder / "w.duckdb"), read_only=True) as con:
            cursor = con.execute("SELECT * FROM raw.activity_users")
            names = [column[0] for column in cursor.description]
            extracted = cursor.fetchall()
    finally:
        shutil.rmtree(folder)
    with psycopg.connect(postgres.url, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        con.execute(f'CREATE SCHEMA "{schema}"')
        con.execute(
            f'CREATE TABLE "{schema}".activity_users (target_entity_uuid text, omni_user_uuid '
            "text, ems_approvestatus text, ems_signinstatus text, ems_approvetimestamp "
            "timestamptz, ems_signintimestamp timestamptz, updated_time timestamptz)"
        )
        columns = ", ".join(names)
        with con.cursor().copy(f'COPY "{schema}".activity_users ({columns}) FROM STDIN') as copy:
            for row in extracted:
                copy.write_row(row)


def test_drift_seen_in_a_postgres_warehouse_is_sent_again(
    postgres: PostgresServer, sandbox: SandboxProcess, schema: str, tmp_path: Path
) -> None:
    """observed_state read from the `sync --postgres` database: JING ends holding the wish."""
    observed = f"obs_{schema}"
    rows, config, source = _prepared(
        postgres, sandbox, schema, observed_state=f"{observed}.activity_users"
    )
    try:
        _extract_into_postgres(sandbox, postgres, observed)
        first = sync(tmp_path, config, *source)
        assert first.returncode == 0, first.stderr[-2000:]
        assert_held(sandbox, rows)
        keys = [(r["activity_id"], r["user_id"]) for r in rows]
        drifted = keys[::10]
        wished = {(r["activity_id"], r["user_id"]): r["approve_status"] for r in rows}
        change_in_jing(sandbox, drifted, wished)
        _extract_into_postgres(sandbox, postgres, observed)  # the pipeline's fresh extract
        second = sync(tmp_path, config, *source)
        assert second.returncode == 0, second.stderr[-2000:]
        assert summary(second)["counts"]["applied"] == len(drifted)
        assert summary(second)["counts"]["unchanged"] == len(rows) - len(drifted)
        assert_held(sandbox, rows)
        reasons = _ledger_rows(
            postgres,
            schema,
            "SELECT DISTINCT reason FROM {s}.jing_sync_log WHERE outcome = 'unchanged'",
        )
        assert any(f"observed in {observed}.activity_users" in r for (r,) in reasons), reasons
    finally:
        with psycopg.connect(postgres.url, autocommit=True) as con:
            con.execute(f'DROP SCHEMA IF EXISTS "{observed}" CASCADE')


def test_a_run_waiting_for_its_busy_shard_does_not_hold_up_the_other_shards(
    postgres: PostgresServer, sandbox: SandboxProcess, schema: str, tmp_path: Path
) -> None:
    rows, config, source = _prepared(postgres, sandbox, schema, ledger_lock_wait_seconds=30)
    holder = _hold(postgres, schema, sandbox, Shard(1, 2))  # shard 1/2 is busy
    try:
        waiting = subprocess.Popen(
            sync_command(tmp_path, config, *source, "--shard", "1/2", name="-waiting"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(2)  # started, and waiting for shard 1/2
        started = time.monotonic()
        other = sync(tmp_path, config, *source, "--shard", "2/2")
        assert other.returncode == 0, other.stderr[-2000:]
        assert time.monotonic() - started < 15, "shard 2/2 waited for shard 1/2's twin"
        assert waiting.poll() is None, "the twin of a busy shard went ahead"
    finally:
        holder.close()
    _, stderr = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, stderr[-2000:]  # it went ahead once the holder left
    assert_held(sandbox, rows)


def test_two_destinations_write_back_at_once_through_one_postgres_ledger(
    postgres: PostgresServer, sandbox_factory: Any, schema: str, tmp_path: Path
) -> None:
    """Two JING apps (two sandboxes) share one ledger schema: their locks and their
    unfinished-run checks are per destination, so neither waits for or settles the other."""
    runs = []
    for name in ("a", "b"):
        sandbox = sandbox_factory(latency_ms=100)  # each run sends for a second or more
        rows = wanted(sandbox)
        load(postgres, f"wanted_{schema}_{name}", rows)
        # The gate (the schema's first creation) may take seconds on a busy machine; that
        # neither run waited for the other's destination is what the overlap below shows.
        config = _config(sandbox, postgres, schema, ledger_lock_wait_seconds=30)
        command = sync_command(
            tmp_path,
            config,
            "--postgres",
            postgres.url,
            "--table",
            f"wanted_{schema}_{name}",
            name=name,
        )
        runs.append((sandbox, rows, command))
    children = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _, _, command in runs
    ]
    outputs = [child.communicate(timeout=180) for child in children]
    for (sandbox, rows, _), child, (stdout, stderr) in zip(runs, children, outputs, strict=True):
        assert child.returncode == 0, stderr[-2000:]
        assert json.loads(stdout.strip().splitlines()[-1])["counts"]["applied"] == len(rows)
        assert_held(sandbox, rows)
    ledger = _ledger_rows(
        postgres,
        schema,
        "SELECT destination, status, started_at, ended_at FROM {s}.jing_sync_runs ORDER BY 1",
    )
    assert [status for _, status, _, _ in ledger] == ["succeeded", "succeeded"]
    assert len({destination for destination, _, _, _ in ledger}) == 2
    (_, _, start_a, end_a), (_, _, start_b, end_b) = ledger
    assert max(start_a, start_b) < min(end_a, end_b), "the two runs went one after the other"
