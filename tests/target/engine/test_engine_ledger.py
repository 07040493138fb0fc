"""The ledger's guarantees: staged rows survive a dead process, one run per ledger, schema."""

from __future__ import annotations

import re
from datetime import UTC
from pathlib import Path

import duckdb
import pytest
from engine_helpers import (
    assert_every_row_logged,
    assert_sandbox_holds,
    batch_calls,
    query,
    run,
    settings_for,
    wanted_rows,
)

from jing_client import JingConfigError
from jing_client.client import Envelope
from jing_sandbox.process import SandboxProcess
from target_jing.echo_answers import answers_table
from target_jing.engine import SyncRun
from target_jing.ledger import SCHEMA_VERSION, Ledger
from target_jing.ledger_home import LedgerHome
from target_jing.plan import Chunk
from target_jing.send import Answered


def test_rows_staged_by_a_run_that_died_before_finish_are_sent_by_the_next(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    rows = wanted_rows(engine_sandbox, limit=80)
    rows.append({"activity_id": "a", "user_id": "u", "approve_status": "maybe"})
    dead = SyncRun(settings).__enter__()
    dead.add_records(rows, source="singer:wanted")
    dead._require_ledger().close()  # the process "dies": no finish, no __exit__

    later = run(settings, [])
    assert later.counts["applied"] == 80 and later.rows_in == 80
    assert_sandbox_holds(engine_sandbox, rows[:80])
    status, rows_in, failed, rejected = query(
        settings,
        "SELECT status, rows_in, failed, rejected FROM jing_sync_runs WHERE run_id = ?",
        [dead.run_id],
    )[0]
    assert (status, rows_in, failed, rejected) == ("aborted", 81, 80, 1)
    assert_every_row_logged(settings)


def test_a_dry_run_logs_each_row_once_even_beside_an_unrecovered_confirmation(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    rows = wanted_rows(engine_sandbox, limit=40)
    first = run(settings, rows)
    with duckdb.connect(str(settings.ledger_path)) as con:  # an older row a kill left behind
        con.execute(
            "INSERT INTO jing_applied_status SELECT entity_uuid, omni_user_uuid, '0', '0', "
            "NULL, NULL, jing_uuid, confirmed_at - INTERVAL 1 DAY, 'older', destination, basis "
            "FROM jing_applied_status"
        )
    dry = run(settings, rows, mode="dry_run")
    assert dry.counts["unchanged"] == dry.rows_in == 40
    reasons = query(
        settings, "SELECT DISTINCT reason FROM jing_sync_log WHERE run_id = ?", [dry.run_id]
    )
    assert reasons == [(f"JING already holds these values (confirmed by run {first.run_id})",)]
    assert_every_row_logged(settings)


def test_knowledge_is_one_row_a_registration_from_the_run_that_confirmed_it_last(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """A run confirming users again replaces the older run's rows; a first run keeps its own."""
    settings = settings_for(engine_sandbox, tmp_path)
    rows = wanted_rows(engine_sandbox, limit=30)
    known = (
        "SELECT count(*), count(DISTINCT (entity_uuid, omni_user_uuid)), min(run_id), "
        "max(run_id) FROM jing_applied_status"
    )
    first = run(settings, rows[:20])
    assert query(settings, known)[0] == (20, 20, first.run_id, first.run_id)
    again = run(settings, rows, mode="full")
    assert again.counts["applied"] == 30
    assert query(settings, known)[0] == (30, 30, again.run_id, again.run_id)


def test_one_ledger_serves_one_run_at_a_time(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    with SyncRun(settings), pytest.raises(JingConfigError, match="ledger_path"):
        SyncRun(settings).__enter__()
    run(settings, [])  # released when the first run ended


def test_guards_on_source_names_and_finished_runs(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    with SyncRun(settings) as sync:
        with pytest.raises(ValueError, match="reserved"):
            sync.add_records([{"activity_id": "a"}], source="pending")
        sync.finish()
        with pytest.raises(RuntimeError, match="finished"):
            sync.finish()
    assert batch_calls(engine_sandbox) == 0


def test_schema_is_created_once_and_a_newer_ledger_is_refused(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    run(settings, [])
    run(settings, [])
    assert query(settings, "SELECT version FROM jing_schema_version") == [(SCHEMA_VERSION,)]
    with duckdb.connect(str(settings.ledger_path)) as con:
        con.execute("INSERT INTO jing_schema_version VALUES (?, now())", [SCHEMA_VERSION + 1])
    with pytest.raises(JingConfigError, match="upgrade target-jing"):
        run(settings, [])


@pytest.mark.parametrize("existing", ["new", "current"])
def test_a_table_of_a_ledger_name_but_another_shape_is_refused_by_name(
    existing: str, engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """Another tool's `jing_pending` in a new file or beside a current ledger: named, not used.

    The expected shape is made in a database attached for the check, which leaves no
    trace in the user's file.
    """
    settings = settings_for(engine_sandbox, tmp_path)
    if existing == "current":
        run(settings, [])
    with duckdb.connect(str(settings.ledger_path)) as con:
        if existing == "current":
            con.execute("ALTER TABLE jing_pending RENAME TO kept_aside")
        con.execute("CREATE TABLE jing_pending (entity_uuid VARCHAR, note VARCHAR)")
    with pytest.raises(JingConfigError, match=r"jing_pending .* lacks the columns omni_user_uuid"):
        run(settings, [])
    with duckdb.connect(str(settings.ledger_path)) as con:
        con.execute("DROP TABLE jing_pending")
        if existing == "current":
            con.execute("ALTER TABLE kept_aside RENAME TO jing_pending")
    run(settings, [])
    databases = query(settings, "SELECT database_name FROM duckdb_databases() WHERE NOT internal")
    assert len(databases) == 1


def test_pending_keeps_one_row_per_user_with_the_newest_wish(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    activity = engine_sandbox.registrations()[0]["target_entity_uuid"]
    first = run(settings, [{"activity_id": activity, "user_id": "late", "approve_status": 1}])
    run(settings, [{"activity_id": activity, "user_id": "late", "approve_status": 2}])
    run(settings, [])
    pending = query(
        settings, "SELECT ems_approvestatus, first_run_id, attempts, last_reason FROM jing_pending"
    )
    assert len(pending) == 1
    status, first_run, attempts, reason = pending[0]
    assert (status, first_run, attempts) == ("2", first.run_id, 3)
    assert "not registered" in reason
    engine_sandbox.register(activity, ["late"])
    assert run(settings, []).counts["applied"] == 1
    assert query(settings, "SELECT count(*) FROM jing_pending") == [(0,)]
    held = {r["omni_user_uuid"]: r for r in engine_sandbox.registrations(activity)}
    assert held["late"]["ems_approvestatus"] == "2"


#: Versions 3 and 4 kept the plan as one row per input row, not per chunk.
_ROW_PER_USER_PLAN = (
    "CREATE TABLE jing_work_rows AS "
    "SELECT s.run_id, c.chunk_id, s.row_index, s.source, s.entity_uuid, s.omni_user_uuid, "
    "s.ems_signinstatus, s.ems_approvestatus, s.ems_signintimestamp, s.ems_approvetimestamp "
    "FROM jing_staged AS s JOIN (SELECT run_id, chunk_id, entity_uuid, "
    "unnest(user_ids) AS omni_user_uuid FROM jing_work) AS c "
    "USING (run_id, entity_uuid, omni_user_uuid) WHERE s.reason IS NULL "
    "ORDER BY c.chunk_id, s.omni_user_uuid",
    "DROP TABLE jing_work",
    "ALTER TABLE jing_work_rows RENAME TO jing_work",
)


@pytest.mark.parametrize("version", [3, 4])
def test_an_older_ledger_is_upgraded_and_its_dead_runs_chunks_are_finished(
    engine_sandbox: SandboxProcess, tmp_path: Path, version: int
) -> None:
    """Versions 3 and 4 kept the plan as a row per input row (3 wrote it twice, as jing_plan
    then jing_work); 5 keeps a row per chunk, its users as a list.

    A run that died after planning left its chunks in such a ledger: the next run
    regroups them, settles the dead run's rows as maybe sent, each with the chunk
    it was in, and sends them.
    """
    settings = settings_for(engine_sandbox, tmp_path)
    rows = wanted_rows(engine_sandbox, limit=30)
    dead = SyncRun(settings).__enter__()
    dead.add_records(rows + rows[:5], source="singer:wanted")  # identical duplicates too
    dead._plan()
    dead._require_ledger().close()  # the process "dies" with its chunks planned
    with duckdb.connect(str(settings.ledger_path)) as con:  # as version 3 or 4 left it
        for statement in _ROW_PER_USER_PLAN:
            con.execute(statement)
        if version == 3:
            con.execute(
                "CREATE TABLE jing_plan AS SELECT run_id, chunk_id, entity_uuid, omni_user_uuid, "
                "ems_signinstatus, ems_approvestatus, ems_signintimestamp, ems_approvetimestamp "
                "FROM jing_work"
            )
        con.execute("UPDATE jing_schema_version SET version = ?", [version])
        planned = con.execute(
            "SELECT source, row_index, chunk_id FROM jing_work ORDER BY 1, 2"
        ).fetchall()
    assert len(planned) == 35 and len({chunk for *_, chunk in planned}) > 1

    later = run(settings, [])
    assert later.retried == 30 and later.counts["applied"] == 30
    assert_sandbox_holds(engine_sandbox, rows)
    dead_log = query(
        settings,
        "SELECT source, row_index, chunk_id, outcome, failure FROM jing_sync_log "
        "WHERE run_id = ? ORDER BY 1, 2",
        [dead.run_id],
    )
    assert [row[:3] for row in dead_log] == planned, "every input row, each in its chunk"
    assert {row[3:] for row in dead_log} == {("failed", "unknown")}
    tables = {name for (name,) in query(settings, "SELECT table_name FROM duckdb_tables()")}
    assert "jing_plan" not in tables and "jing_work_rows" not in tables
    columns = query(
        settings, "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", ["jing_work"]
    )
    assert ("user_ids",) in columns and ("row_index",) not in columns
    assert query(settings, "SELECT max(version) FROM jing_schema_version") == [(SCHEMA_VERSION,)]
    assert_every_row_logged(settings)


def test_a_duckdb_ledger_works_on_one_thread_the_whole_run(tmp_path: Path) -> None:
    """DuckDB's workers cost more to wake than the ledger's statements save (see `_open_file`)."""
    ledger = Ledger(LedgerHome(path=tmp_path / "ledger.duckdb"), "app@https://api.example.test")
    threads = "SELECT current_setting('threads')"
    try:
        assert ledger.con.execute(threads).fetchone() == (1,)
        with ledger.sending():
            assert ledger.con.execute(threads).fetchone() == (1,)
        assert ledger.con.execute(threads).fetchone() == (1,)
    finally:
        ledger.close()


def test_a_batch_of_answers_finds_its_input_rows_without_reading_the_whole_run(
    tmp_path: Path,
) -> None:
    """A batch of answers holds a few activities (chunks go out in activity order). Its
    input rows must be found among the rows of those activities, not by reading every
    wanted row of the run at each record: at 1,000,000 rows that scan was half a record's
    cost. A user asked for twice is logged twice; a rejected row is not logged."""
    ledger = Ledger(LedgerHome(path=tmp_path / "ledger.duckdb"), "app@https://api.example.test")
    activity = "a0123"
    try:
        with ledger.transaction() as con:
            # 400,000 rows (four of DuckDB's row groups), in an order that is not the
            # activities': row i is of activity (i * 7919) mod 4000.
            con.execute(
                "INSERT INTO jing_staged (run_id, row_index, source, entity_uuid, omni_user_uuid) "
                "SELECT 'r1', i, 'input', 'a' || lpad(((i * 7919) % 4000)::VARCHAR, 4, '0'), "
                "'u' || i FROM range(400000) AS t(i)"
            )
            ours = [
                i
                for (i,) in con.execute(
                    "SELECT row_index FROM jing_staged WHERE entity_uuid = ? ORDER BY 1",
                    [activity],
                ).fetchall()
            ]
            con.execute(
                "INSERT INTO jing_staged (run_id, row_index, source, entity_uuid, omni_user_uuid, "
                "reason) VALUES ('r1', 400000, 'input', ?, ?, NULL), "
                "('r1', 400001, 'input', ?, 'rejected-user', 'row 400001: no status')",
                [activity, f"u{ours[0]}", activity],
            )
        users = [f"u{i}" for i in ours] + ["rejected-user"]
        sent = Chunk(0, activity, {"ems_approvestatus": "1"}, users, input_rows=len(users))
        echo = [
            {"target_entity_uuid": activity, "omni_user_uuid": u, "ems_approvestatus": "1"}
            for u in users
        ]
        answer = Envelope(echo, 0, "success", "r" * 32, 200, None)
        answers = answers_table([Answered(sent, [], [], calls=1, echo=answer)], UTC)
        ledger.record_answers("r1", answers, 1)
        logged = ledger.con.execute(
            "SELECT row_index, outcome FROM jing_sync_log WHERE run_id = 'r1' ORDER BY 1"
        ).fetchall()
        ledger.con.register("batch", answers)
        profile = ledger.con.execute(
            f"EXPLAIN ANALYZE SELECT s.row_index FROM batch JOIN {ledger.input_rows('r1')} AS s "
            "USING (entity_uuid, omni_user_uuid)"
        ).fetchall()[0][1]
    finally:
        ledger.close()
    assert logged == [(i, "applied") for i in [*ours, 400000]]
    scans = re.findall(r"Row Groups Scanned: (\d+) / (\d+)", profile)
    read, held = max(scans, key=lambda scan: int(scan[1]))
    assert int(held) >= 4 and int(read) <= 2, profile
