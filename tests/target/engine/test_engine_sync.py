"""SyncRun against a small sandbox over HTTP, with a real DuckDB ledger."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from engine_helpers import (
    BATCH_PATH,
    assert_every_row_logged,
    assert_sandbox_holds,
    batch_calls,
    expected_calls,
    ledger_text,
    query,
    run,
    settings_for,
    wanted_rows,
)

from jing_sandbox.process import SandboxProcess
from target_jing.engine import Progress, SyncRun
from target_jing.send import IN_FLIGHT_PER_WORKER


def test_rows_are_applied_with_minimum_calls_then_unchanged(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    rows = wanted_rows(engine_sandbox)
    seen: list[Progress] = []
    with SyncRun(settings, on_progress=seen.append) as sync:
        sync.add_records(rows, source="singer:wanted")
        first = sync.finish()

    assert first.status == "succeeded" and first.counts["applied"] == len(rows)
    assert first.update_calls == first.minimum_calls == expected_calls(rows)
    assert batch_calls(engine_sandbox) == first.minimum_calls
    assert_sandbox_holds(engine_sandbox, rows)
    assert {p.phase for p in seen} == {"read", "plan", "send", "done"}
    assert seen[-1].phase == "done" and seen[-1].calls == first.update_calls

    assert first.client_stats["token_fetches"] == 1  # fetched ahead, while the chunks were cut
    second = run(settings, rows)
    assert second.update_calls == 0 and batch_calls(engine_sandbox) == first.minimum_calls
    assert engine_sandbox.stats()["tokens_issued"] == 1, "nothing to send: no token asked for"
    assert second.counts["unchanged"] == second.rows_in == len(rows)
    assert_every_row_logged(settings)
    applied = query(settings, "SELECT count(*) FROM jing_applied_status")[0][0]
    assert applied == len(rows)


def test_the_last_record_waits_only_for_the_calls_still_out(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """Once the last chunk is sent, what was answered is recorded before the last answers."""
    workers = 2
    settings = settings_for(engine_sandbox, tmp_path, batch_size=5, max_concurrency=workers)
    rows = wanted_rows(engine_sandbox)
    seen: list[Progress] = []
    with SyncRun(settings, on_progress=seen.append) as sync:
        sync.add_records(rows, source="singer:wanted")
        summary = sync.finish()

    assert summary.status == "succeeded" and summary.update_calls > 4 * IN_FLIGHT_PER_WORKER
    recorded = [p.calls for p in seen if p.phase == "send"]
    assert recorded[-1] == summary.update_calls
    assert len(recorded) >= 2 and recorded[-2] >= recorded[-1] - IN_FLIGHT_PER_WORKER * workers


def test_duckdb_relation_input_is_streamed_and_applied(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    rows = wanted_rows(engine_sandbox)
    warehouse = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    warehouse.register("frame", pd.DataFrame(rows))
    warehouse.execute(
        "CREATE TABLE wanted AS SELECT activity_id, user_id, approve_status::INTEGER "
        "AS approve_status, signin_status, signin_time::TIMESTAMP AS signin_time FROM frame"
    )
    with SyncRun(settings) as sync:
        sync.add_relation(warehouse.sql("SELECT * FROM wanted"), source="duckdb:wanted")
        summary = sync.finish()
    warehouse.close()
    assert summary.counts["applied"] == len(rows)
    assert summary.update_calls == expected_calls(rows)
    assert_sandbox_holds(engine_sandbox, rows)


def test_unregistered_stay_pending_until_registered_and_an_unknown_activity_is_permanent(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    activity = engine_sandbox.registrations()[0]["target_entity_uuid"]
    rows = [
        {"activity_id": activity, "user_id": "newcomer1", "approve_status": 1},
        {"activity_id": activity, "user_id": "newcomer2", "approve_status": 1},
        {"activity_id": "noSuchActivity", "user_id": "newcomer1", "approve_status": 2},
    ]
    first = run(settings, rows)
    assert first.status == "failed" and first.counts["failed"] == 3
    reasons = dict(
        query(
            settings,
            "SELECT entity_uuid || '/' || omni_user_uuid, reason FROM jing_sync_log "
            "WHERE run_id = ?",
            [first.run_id],
        )
    )
    assert "not registered for this activity" in reasons[f"{activity}/newcomer1"]
    unknown = reasons["noSuchActivity/newcomer1"]
    assert "code=40400" in unknown and "request_id=" in unknown
    states = sorted(query(settings, "SELECT entity_uuid, state FROM jing_pending"))
    assert states == sorted(
        [(activity, "pending"), (activity, "pending"), ("noSuchActivity", "permanent")]
    )

    engine_sandbox.register(activity, ["newcomer1", "newcomer2"])
    later = run(settings, [])  # the input no longer has them: pending rows are retried
    assert later.counts["applied"] == 2 and later.counts["failed"] == 0, "permanent: not retried"
    sources = query(
        settings, "SELECT DISTINCT source FROM jing_sync_log WHERE run_id = ?", [later.run_id]
    )
    assert sources == [("pending",)]
    held = {r["omni_user_uuid"]: r for r in engine_sandbox.registrations(activity)}
    assert held["newcomer1"]["ems_approvestatus"] == "1"
    pending = query(settings, "SELECT entity_uuid, attempts, first_run_id, state FROM jing_pending")
    assert pending == [("noSuchActivity", 1, first.run_id, "permanent")]
    assert_every_row_logged(settings)


def test_invalid_rows_are_rejected_and_the_rest_applied(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    good = wanted_rows(engine_sandbox, limit=30)
    bad: list[dict[str, Any]] = [
        {"activity_id": None, "user_id": "u", "approve_status": 1},
        {"activity_id": "a", "user_id": "u", "approve_status": "yes"},
        {"activity_id": "a", "user_id": "u", "approve_status": True},
        {"activity_id": "a", "user_id": "u", "approve_status": 1, "approve_time": "someday"},
        {"activity_id": "a", "user_id": "u"},
    ]
    summary = run(settings, good + bad)
    assert summary.counts == {
        "applied": 30,
        "unchanged": 0,
        "failed": 0,
        "rejected": 5,
        "planned": 0,
        "superseded": 0,
    }
    assert summary.status == "failed" and summary.failed_ratio == pytest.approx(5 / 35)
    rejected = query(
        settings,
        "SELECT row_index, reason FROM jing_sync_log WHERE outcome = 'rejected' ORDER BY row_index",
    )
    assert [index for index, _ in rejected] == [30, 31, 32, 33, 34]
    for index, text in rejected:
        assert text.startswith(f"row {index} of singer:wanted:")
    assert_sandbox_holds(engine_sandbox, good)
    assert query(settings, "SELECT count(*) FROM jing_pending")[0][0] == 0


def test_duplicates_collapse_when_identical_and_are_rejected_when_conflicting(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    first, second = engine_sandbox.registrations()[:2]
    same = {"activity_id": first["target_entity_uuid"], "user_id": first["omni_user_uuid"]}
    other = {"activity_id": second["target_entity_uuid"], "user_id": second["omni_user_uuid"]}
    rows = [
        {**same, "approve_status": 2},
        {**same, "approve_status": "2"},  # the same wish: collapses
        {**other, "approve_status": 1},
        {**other, "approve_status": 0},  # a different wish: both rejected
    ]
    seen: list[Progress] = []
    with SyncRun(settings, on_progress=seen.append) as sync:
        sync.add_records(rows, source="singer:wanted")
        summary = sync.finish()
    assert summary.update_calls == 1
    sent = [p for p in seen if p.phase == "send"]
    assert (sent[-1].rows_done, sent[-1].rows_total, sent[-1].calls) == (2, 2, 1)
    logged = query(
        settings, "SELECT row_index, outcome, reason FROM jing_sync_log ORDER BY row_index"
    )
    assert [outcome for _, outcome, _ in logged] == ["applied", "applied", "rejected", "rejected"]
    assert "conflicting duplicate of row 3 of singer:wanted" in logged[2][2]
    assert "conflicting duplicate of row 2 of singer:wanted" in logged[3][2]


def test_a_bad_row_is_isolated_by_splitting_the_chunk(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    activity = engine_sandbox.registrations()[0]["target_entity_uuid"]
    users = [r["omni_user_uuid"] for r in engine_sandbox.registrations(activity)][:40]
    rows = [{"activity_id": activity, "user_id": u, "approve_status": 2} for u in users]
    rows.insert(17, {"activity_id": activity, "user_id": "not a user id!", "approve_status": 2})
    summary = run(settings, rows)
    assert summary.minimum_calls == 1
    assert summary.counts["applied"] == 40 and summary.counts["failed"] == 1
    # 41 users: the whole chunk, then halves down to the one bad id (2 calls per level).
    assert 1 < summary.update_calls <= 1 + 2 * 6
    assert batch_calls(engine_sandbox) == summary.update_calls
    failed = query(
        settings, "SELECT omni_user_uuid, reason FROM jing_sync_log WHERE outcome = 'failed'"
    )
    assert failed[0][0] == "not a user id!" and "code=40010" in failed[0][1]
    assert all(
        r["ems_approvestatus"] == "2"
        for r in engine_sandbox.registrations(activity)
        if r["omni_user_uuid"] in users
    )


def test_a_refused_shared_value_is_isolated_by_splitting_and_then_permanent(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """A status the API refuses (allowed here by a wrong setting): split to single rows, never
    by reading the API's msg, then permanent and not retried by the next run."""
    settings = settings_for(engine_sandbox, tmp_path, signin_statuses=["0", "1", "7"])
    rows = wanted_rows(engine_sandbox, limit=50)
    rows = [{**r, "signin_status": "7", "signin_time": None} for r in rows]
    summary = run(settings, rows)
    assert summary.counts["failed"] == 50
    per_chunk = Counter(
        query(settings, "SELECT chunk_id FROM jing_sync_log WHERE run_id = ?", [summary.run_id])
    )
    assert summary.update_calls == sum(2 * n - 1 for n in per_chunk.values())
    states = query(settings, "SELECT DISTINCT state FROM jing_pending")
    assert states == [("permanent",)]
    assert run(settings, []).update_calls == 0, "a permanent failure is not retried"


def test_dry_run_sends_nothing_and_logs_the_plan(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    rows = wanted_rows(engine_sandbox)
    before = engine_sandbox.registrations()
    summary = run(settings, rows, mode="dry_run")
    assert summary.counts["planned"] == len(rows) and summary.update_calls == 0
    assert summary.minimum_calls == expected_calls(rows)
    assert engine_sandbox.stats()["calls"] == {}  # not even a token
    assert engine_sandbox.registrations() == before
    chunks = query(
        settings,
        "SELECT count(DISTINCT chunk_id), count(*) FILTER (chunk_id IS NULL) FROM jing_sync_log",
    )
    assert chunks == [(summary.minimum_calls, 0)]
    for table in ("jing_applied_status", "jing_pending"):
        assert query(settings, f"SELECT count(*) FROM {table}")[0][0] == 0
    real = run(settings, rows)  # the dry run left nothing that changes a real run
    assert real.update_calls == summary.minimum_calls
    assert_every_row_logged(settings)


def test_full_mode_ignores_the_diff(engine_sandbox: SandboxProcess, tmp_path: Path) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    rows = wanted_rows(engine_sandbox, limit=120)
    first = run(settings, rows)
    full = run(settings, rows, mode="full")
    assert full.update_calls == full.minimum_calls == first.update_calls > 0
    assert full.counts["applied"] == len(rows) and full.counts["unchanged"] == 0
    assert batch_calls(engine_sandbox) == 2 * first.update_calls


def test_only_changed_rows_are_sent(engine_sandbox: SandboxProcess, tmp_path: Path) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    rows = wanted_rows(engine_sandbox)
    run(settings, rows)
    changed = [{**r, "approve_status": (r["approve_status"] + 1) % 3} for r in rows[:25]]
    again = run(settings, changed + rows[25:])
    assert again.counts["applied"] == 25 and again.counts["unchanged"] == len(rows) - 25
    assert again.update_calls == expected_calls(changed)
    assert_sandbox_holds(engine_sandbox, changed + rows[25:])


def test_auth_error_aborts_cleanly_and_keeps_rows_pending(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    wrong = "0" * 32
    settings = settings_for(engine_sandbox, tmp_path, app_secret=wrong)
    rows = wanted_rows(engine_sandbox, limit=50)
    summary = run(settings, rows)
    assert summary.status == "aborted" and summary.fatal_error
    assert "JingAuthError" in summary.fatal_error and wrong not in summary.fatal_error
    assert summary.counts["failed"] == 50 and batch_calls(engine_sandbox) == 0
    assert query(settings, "SELECT count(*) FROM jing_pending")[0][0] == 50
    assert wrong not in ledger_text(settings)

    good = settings_for(engine_sandbox, tmp_path)
    retried = run(good, [])
    assert retried.counts["applied"] == 50 and retried.status == "succeeded"
    assert_sandbox_holds(engine_sandbox, rows)
    assert_every_row_logged(good)


def test_permission_error_mid_run_stops_sending(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path, max_concurrency=1)
    rows = wanted_rows(engine_sandbox)
    engine_sandbox.faults(path=BATCH_PATH, permission=1.0)
    summary = run(settings, rows)
    assert summary.status == "aborted" and "JingPermissionError" in (summary.fatal_error or "")
    assert summary.update_calls <= 2  # stops at the first refusal (one may be queued)
    # The calls queued behind it are taken back, not sent to be refused one by one.
    assert batch_calls(engine_sandbox) <= 2
    assert summary.counts["failed"] == len(rows)
    engine_sandbox.faults()
    assert run(settings, []).counts["applied"] == len(rows)
    assert_sandbox_holds(engine_sandbox, rows)
    assert_every_row_logged(settings)


def test_an_exception_inside_the_run_records_it_as_aborted(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    rows = wanted_rows(engine_sandbox, limit=10)
    with pytest.raises(RuntimeError), SyncRun(settings) as sync:
        sync.add_records(rows, source="singer:wanted")
        raise RuntimeError("the caller failed")
    status, fatal = query(settings, "SELECT status, fatal_error FROM jing_sync_runs")[0]
    assert status == "aborted" and "the caller failed" in fatal
    assert query(settings, "SELECT count(*) FROM jing_pending")[0][0] == 10
    assert_every_row_logged(settings)


def test_no_secret_reaches_the_ledger(engine_sandbox: SandboxProcess, tmp_path: Path) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    rows = wanted_rows(engine_sandbox, limit=60)
    rows[0]["approve_status"] = engine_sandbox.app_secret  # a secret in the input is rejected
    run(settings, rows)
    engine_sandbox.expire_tokens()
    run(settings, wanted_rows(engine_sandbox, limit=60, variant=1))
    text = ledger_text(settings)
    tokens = engine_sandbox.tokens()
    secrets = [engine_sandbox.app_secret, *tokens.get("access", []), *tokens.get("refresh", [])]
    assert len(secrets) > 2
    leaked = [s for s in secrets if s in text]
    assert leaked == []


def test_transient_errors_after_all_retries_fail_the_chunk_with_the_apis_words(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path, max_attempts=2)
    activity = engine_sandbox.registrations()[0]["target_entity_uuid"]
    users = [r["omni_user_uuid"] for r in engine_sandbox.registrations(activity)][:10]
    rows = [{"activity_id": activity, "user_id": u, "approve_status": 2} for u in users]
    engine_sandbox.faults(path=BATCH_PATH, code_50000=1.0)
    summary = run(settings, rows)
    assert summary.status == "failed" and summary.counts["failed"] == 10
    assert summary.fatal_error is None  # one chunk failing is not the API being down
    reasons = query(settings, "SELECT DISTINCT reason, request_id FROM jing_sync_log")
    assert len(reasons) == 1 and "code=50000" in reasons[0][0] and len(reasons[0][1]) == 32
    assert query(settings, "SELECT count(*) FROM jing_pending")[0][0] == 10


def test_an_unreachable_api_stops_the_run_after_a_streak_of_failed_calls(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path, max_attempts=2, max_concurrency=1)
    rows = wanted_rows(engine_sandbox)
    engine_sandbox.faults(path=BATCH_PATH, http_5xx=1.0)
    summary = run(settings, rows)
    assert summary.status == "aborted" and "ApiUnreachable" in (summary.fatal_error or "")
    assert summary.update_calls < summary.minimum_calls
    assert summary.counts["failed"] == len(rows)
    engine_sandbox.faults()
    assert run(settings, []).counts["applied"] == len(rows)
    assert_sandbox_holds(engine_sandbox, rows)
    assert_every_row_logged(settings)
