"""Write-back truth: after every run JING holds the latest wish, and every outcome is true.

Each test is a sequence of runs whose wishes change, against a real sandbox: the
claims `applied` and `unchanged` are checked against what the sandbox holds right
after the run that made them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from engine_helpers import BATCH_PATH, batch_calls, query, run, settings_for

from bench.chaos_sequences import change_in_jing, extract
from jing_client import JingConfigError
from jing_sandbox.process import SandboxProcess
from target_jing.dataframe import sync_dataframe
from target_jing.engine import RunSummary
from target_jing.settings import TargetSettings
from target_jing.sources import SourceError


def approvals(sandbox: SandboxProcess, limit: int, value: str) -> list[dict[str, Any]]:
    """Rows asking `value` as the approval status of the first `limit` registrations."""
    return [
        {
            "activity_id": r["target_entity_uuid"],
            "user_id": r["omni_user_uuid"],
            "approve_status": value,
        }
        for r in sandbox.registrations()[:limit]
    ]


def held(sandbox: SandboxProcess) -> dict[tuple[str, str], str]:
    return {
        (r["target_entity_uuid"], r["omni_user_uuid"]): r["ems_approvestatus"]
        for r in sandbox.registrations()
    }


def assert_latest_wish(sandbox: SandboxProcess, rows: list[dict[str, Any]]) -> None:
    holds = held(sandbox)
    wrong = [r for r in rows if holds[(r["activity_id"], r["user_id"])] != r["approve_status"]]
    assert not wrong, f"{len(wrong)} registrations do not hold the latest wish: {wrong[:3]}"


def assert_outcomes_true(
    sandbox: SandboxProcess, settings: TargetSettings, summary: RunSummary
) -> None:
    """No row logged applied or unchanged unless JING holds its values right now."""
    holds = held(sandbox)
    claimed = query(
        settings,
        "SELECT entity_uuid, omni_user_uuid, ems_approvestatus, outcome FROM jing_sync_log "
        "WHERE run_id = ? AND outcome IN ('applied', 'unchanged') "
        "AND ems_approvestatus IS NOT NULL",
        [summary.run_id],
    )
    false = [c for c in claimed if holds.get((c[0], c[1])) != c[2]]
    assert not false, f"{len(false)} false outcomes: {false[:3]}"


@pytest.mark.parametrize(
    "spoil",
    [
        {"drop_after": 1.0},  # the call takes effect, the connection closes unanswered
        {"malformed": 1.0},  # the call takes effect, the answer is HTML, cut off or empty
    ],
)
def test_an_answer_lost_after_the_change_is_no_confirmation(
    spoil: dict[str, float], engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path, max_attempts=1)
    first = approvals(engine_sandbox, 60, "1")
    assert run(settings, first).counts["applied"] == 60

    engine_sandbox.faults(path=BATCH_PATH, **spoil)
    second = run(settings, approvals(engine_sandbox, 60, "2"))
    assert second.counts["applied"] == 0 and second.counts["failed"] == 60
    failures = query(
        settings, "SELECT DISTINCT failure FROM jing_sync_log WHERE run_id = ?", [second.run_id]
    )
    assert failures == [("unknown",)]
    assert second.exit_code == 1 and second.stopped_by is None, "answers came: not unreachable"
    engine_sandbox.faults()

    third = run(settings, first)  # the old wish again: the ledger's old confirmation is void
    assert third.counts["unchanged"] == 0
    assert third.update_calls >= 1
    assert_latest_wish(engine_sandbox, first)
    assert_outcomes_true(engine_sandbox, settings, third)


def test_a_killed_run_leaves_its_chunks_unknown(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """Rows planned into chunks by a run that died are unknown to the next one, never old news."""
    settings = settings_for(engine_sandbox, tmp_path)
    first = approvals(engine_sandbox, 40, "1")
    run(settings, first)
    # A run that sent "2" and died before recording the answers: its call took effect.
    from target_jing.engine import SyncRun

    dying = SyncRun(settings).__enter__()
    dying.add_records(approvals(engine_sandbox, 40, "2"), source="singer:wanted")
    dying._plan()
    from jing_client import ClientSettings, JingClient

    with JingClient(ClientSettings.from_config(engine_sandbox.config())) as client:
        activities: dict[str, list[str]] = {}
        for row in approvals(engine_sandbox, 40, "2"):
            activities.setdefault(row["activity_id"], []).append(row["user_id"])
        for activity, users in activities.items():
            client.update_user_status(activity, users, {"ems_approvestatus": "2"})
    dying._require_ledger().close()  # the process is gone: its run stays 'running'

    after = run(settings, first)
    assert after.counts["unchanged"] == 0
    assert_latest_wish(engine_sandbox, first)
    assert_outcomes_true(engine_sandbox, settings, after)


def test_one_ledger_keeps_each_destination_apart(
    sandbox_factory: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    a = sandbox_factory(activities=3, users=100, registrations=200, seed=1)
    b = sandbox_factory(activities=3, users=100, registrations=200, seed=1, app_id="2" * 27)
    ledger = str(tmp_path / "shared.duckdb")
    rows = [{**r, "approve_status": "2"} for r in approvals(a, 80, "2")]
    on_a = TargetSettings.from_config(a.config(ledger_path=ledger))
    on_b = TargetSettings.from_config(b.config(ledger_path=ledger))
    assert run(on_a, rows).counts["applied"] == 80
    to_b = run(on_b, rows)
    assert to_b.counts["unchanged"] == 0 and to_b.counts["applied"] == 80
    assert batch_calls(b) >= 1
    assert_latest_wish(b, rows)
    destinations = query(on_a, "SELECT DISTINCT destination FROM jing_applied_status ORDER BY 1")
    assert [d for (d,) in destinations] == sorted([to_b.destination, run(on_a, []).destination])


def test_a_rejected_newer_row_supersedes_the_pending_wish(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    activity = engine_sandbox.registrations()[0]["target_entity_uuid"]
    late = {"activity_id": activity, "user_id": "latecomer", "approve_status": "2"}
    run(settings, [late])  # not registered yet: pending with "2"
    engine_sandbox.register(activity, ["latecomer"])
    newer = run(settings, [{**late, "approve_status": "9"}])  # rejected: not a status
    assert newer.counts["rejected"] == 1 and newer.counts["superseded"] == 1
    reason = query(
        settings,
        "SELECT reason FROM jing_sync_log WHERE run_id = ? AND outcome = 'superseded'",
        [newer.run_id],
    )[0][0]
    assert "superseded by row 0 of singer:wanted" in reason
    assert held(engine_sandbox)[(activity, "latecomer")] == "0", "the withdrawn wish was not sent"
    assert query(settings, "SELECT count(*) FROM jing_pending")[0][0] == 0
    assert run(settings, []).update_calls == 0


def test_a_conflicting_duplicate_supersedes_the_pending_wish(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    activity = engine_sandbox.registrations()[0]["target_entity_uuid"]
    late = {"activity_id": activity, "user_id": "latecomer", "approve_status": "2"}
    run(settings, [late])
    engine_sandbox.register(activity, ["latecomer"])
    newer = run(settings, [{**late, "approve_status": "1"}, {**late, "approve_status": "0"}])
    assert newer.counts["rejected"] == 2 and newer.counts["superseded"] == 1
    assert newer.update_calls == 0


def test_retryable_rows_are_given_up_past_the_limit_and_stop_failing_runs(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path, pending_max_attempts=2)
    activity = engine_sandbox.registrations()[0]["target_entity_uuid"]
    ghost = {"activity_id": activity, "user_id": "never_registers", "approve_status": "1"}
    first = run(settings, [ghost])
    assert first.exit_code == 1, "this run's own row failed"
    second = run(settings, [])
    assert second.counts["failed"] == 1 and second.retried == 1
    assert second.exit_code == 0, "a retried pending row does not fail the run on its own"
    state, reason = query(settings, "SELECT state, last_reason FROM jing_pending")[0]
    assert state == "given_up" and "given up after 2 attempts" in reason
    calls = batch_calls(engine_sandbox)
    third = run(settings, [])
    assert third.retried == 0 and batch_calls(engine_sandbox) == calls
    assert third.exit_code == 0


def test_a_bad_id_is_isolated_by_splitting_whatever_its_text(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """The sandbox refuses the whole chunk for one malformed id whose text names a field."""
    settings = settings_for(engine_sandbox, tmp_path)
    activity = engine_sandbox.registrations()[0]["target_entity_uuid"]
    good = [r for r in approvals(engine_sandbox, 400, "2") if r["activity_id"] == activity][:99]
    bad = {
        "activity_id": activity,
        "user_id": "entity_uuid ems_approvestatus!",
        "approve_status": "2",
    }
    summary = run(settings, [*good, bad])
    assert summary.counts["applied"] == len(good) and summary.counts["failed"] == 1
    assert query(settings, "SELECT omni_user_uuid, state FROM jing_pending") == [
        (bad["user_id"], "permanent")
    ]
    again = run(settings, [*good, bad])
    assert again.update_calls == 0 and again.counts["unchanged"] == len(good)
    assert again.counts["failed"] == 1, "the same refused wish is not sent again"


@pytest.mark.parametrize("source", ["observed_state", "read_back"])
def test_drift_in_jing_is_seen_and_sent_again(
    source: str, engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    knobs: dict[str, Any] = (
        {"observed_state": "raw.activity_users", "observed_state_path": str(warehouse)}
        if source == "observed_state"
        else {"read_back": True}
    )
    settings = settings_for(engine_sandbox, tmp_path, **knobs)
    rows = approvals(engine_sandbox, 200, "2")
    extract(engine_sandbox, warehouse)
    first = run(settings, rows)
    assert_outcomes_true(engine_sandbox, settings, first)
    drifted = [(r["activity_id"], r["user_id"]) for r in rows][::10]
    changed = change_in_jing(engine_sandbox, drifted, {key: "2" for key in drifted})
    extract(engine_sandbox, warehouse)  # the pipeline's fresh extract
    second = run(settings, rows)
    assert second.counts["applied"] == changed
    assert second.counts["unchanged"] == len(rows) - changed
    assert_latest_wish(engine_sandbox, rows)
    assert_outcomes_true(engine_sandbox, settings, second)
    reasons = {
        r
        for (r,) in query(
            settings,
            "SELECT DISTINCT reason FROM jing_sync_log WHERE run_id = ? AND outcome = 'unchanged'",
            [second.run_id],
        )
    }
    word = "observed in raw.activity_users" if source == "observed_state" else "read back at"
    assert any(word in r for r in reasons) or all("confirmed by run" in r for r in reasons)


def test_a_read_back_of_text_that_no_utf8_holds_still_settles_every_row(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """An activity read back holds a registration whose id JSON carries as a lone
    surrogate, which no ledger can hold. The rest is read, and every wanted row is
    applied or unchanged as JING holds it. Before, the run stopped at the read."""
    activity = engine_sandbox.registrations()[0]["target_entity_uuid"]
    engine_sandbox.register(activity, ["cut\ud83d"])
    settings = settings_for(engine_sandbox, tmp_path, read_back=True)
    rows = [r for r in approvals(engine_sandbox, 100, "2") if r["user_id"] != "cut\ud83d"]
    summary = run(settings, rows)
    assert summary.exit_code == 0
    assert summary.counts["applied"] + summary.counts["unchanged"] == len(rows)
    assert_latest_wish(engine_sandbox, rows)
    assert_outcomes_true(engine_sandbox, settings, summary)


def test_an_observed_state_saves_the_calls_of_a_first_run(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    extract(engine_sandbox, warehouse)
    settings = settings_for(
        engine_sandbox,
        tmp_path,
        observed_state="raw.activity_users",
        observed_state_path=str(warehouse),
    )
    rows = [
        {"activity_id": a, "user_id": u, "approve_status": v}
        for (a, u), v in list(held(engine_sandbox).items())[:100]
    ]
    summary = run(settings, rows)
    assert summary.counts["unchanged"] == 100 and summary.update_calls == 0
    reason = query(settings, "SELECT DISTINCT reason FROM jing_sync_log")[0][0]
    assert reason.startswith("JING already holds these values (observed in raw.activity_users")


@pytest.mark.parametrize(
    "style",
    ["int_statuses", "time_t", "time_offset", "time_minutes", "success_failure"],
)
def test_plausible_answer_styles_are_read_as_applied(
    style: str, sandbox_factory: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    sandbox = sandbox_factory(activities=3, users=100, registrations=200, answer_style=style)
    settings = settings_for(sandbox, tmp_path)
    rows = [
        {**r, "signin_status": "1", "signin_time": "2025-03-01 02:00:00"}
        for r in approvals(sandbox, 50, "2")
    ]
    first = run(settings, rows)
    assert first.counts["applied"] == 50, first
    assert run(settings, rows).update_calls == 0
    assert_latest_wish(sandbox, rows)


@pytest.mark.parametrize("style", ["data_null", "data_missing", "non_json"])
def test_an_unreadable_answer_is_unknown_and_a_read_back_settles_it(
    style: str, sandbox_factory: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    sandbox = sandbox_factory(activities=3, users=100, registrations=200, answer_style=style)
    rows = approvals(sandbox, 50, "2")
    blind = run(settings_for(sandbox, tmp_path / "blind", max_attempts=1), rows)
    assert blind.counts["applied"] == 0 and blind.stopped_by is None
    assert {
        f
        for (f,) in query(
            settings_for(sandbox, tmp_path / "blind"),
            "SELECT DISTINCT failure FROM jing_sync_log WHERE run_id = ?",
            [blind.run_id],
        )
    } == {"unknown"}
    settled = run(settings_for(sandbox, tmp_path / "read", max_attempts=1, read_back=True), rows)
    assert settled.counts["failed"] == 0
    assert settled.counts["applied"] + settled.counts["unchanged"] == 50
    assert_latest_wish(sandbox, rows)


@pytest.mark.parametrize(
    ("frame", "mapping", "words"),
    [
        (
            pd.DataFrame({"activity_id": ["a"], "member": ["u"], "approve_status": ["1"]}),
            {"omni_user_uuid": "user"},
            "maps omni_user_uuid to column 'user'",
        ),
        (
            pd.DataFrame({"act": ["a"], "who": ["u"], "approve_status": ["1"]}),
            None,
            "no activity id column",
        ),
        (
            pd.DataFrame([["a", "u", "1"]], columns=["activity_id", "user_id", "user_id"]),
            None,
            "column names repeat ('user_id')",
        ),
        (
            pd.DataFrame({"activity_id": ["a"], "user_id": ["u"], "approve_status": ["1"]}),
            {"omni_user_uuid": "activity_id"},
            "would be both",
        ),
    ],
)
def test_a_wrong_input_shape_stops_the_run_before_anything_is_sent(
    frame: pd.DataFrame,
    mapping: dict[str, str] | None,
    words: str,
    engine_sandbox: SandboxProcess,
    tmp_path: Path,
) -> None:
    config = engine_sandbox.config(ledger_path=str(tmp_path / "l.duckdb"))
    if mapping:
        config["column_mapping"] = mapping
    with pytest.raises(SourceError, match=re.escape(words)) as caught:
        sync_dataframe(frame, config)
    assert "columns:" in str(caught.value) or "would be both" in str(caught.value)
    assert batch_calls(engine_sandbox) == 0


def test_ids_keep_every_digit_through_duckdb(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    settings = settings_for(engine_sandbox, tmp_path)
    activity = engine_sandbox.registrations()[0]["target_entity_uuid"]
    big = "9007199254740993"
    engine_sandbox.register(activity, [big])
    from target_jing.engine import SyncRun

    with duckdb.connect() as con:
        relation = con.sql(
            f"SELECT '{activity}' AS activity_id, * FROM (VALUES "
            f"(CAST({big} AS BIGINT), '2'), (CAST(NULL AS BIGINT), '1')) "
            "AS t(user_id, approve_status)"
        )
        with SyncRun(settings) as sync:
            sync.add_relation(relation, source="duckdb:q")
            summary = sync.finish()
    assert summary.counts["applied"] == 1 and summary.counts["rejected"] == 1
    assert held(engine_sandbox)[(activity, big)] == "2"


def test_an_api_that_never_answers_is_unreachable_whatever_the_size(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    settings = TargetSettings.from_config(
        {
            "app_id": "1",
            "app_secret": "s" * 32,
            "base_url": base_url,
            "max_attempts": 1,
            "ledger_path": str(tmp_path / "l.duckdb"),
        }
    )
    summary = run(settings, [{"activity_id": "a", "user_id": "u", "approve_status": "1"}])
    assert summary.exit_code == 4 and summary.stopped_by == "unreachable"
    assert summary.update_calls == 0
    assert base_url in (summary.fatal_error or "")


def test_one_ledger_serves_one_run_at_a_time_within_a_process(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    config = engine_sandbox.config(ledger_path=str(tmp_path / "l.duckdb"))
    frame = pd.DataFrame(approvals(engine_sandbox, 300, "1"))
    results: list[Any] = []
    start = threading.Barrier(2)

    def one() -> None:
        start.wait()
        try:
            results.append(sync_dataframe(frame, config))
        except Exception as error:
            results.append(error)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [r for r in results if isinstance(r, Exception)]
    summaries = [r for r in results if not isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], JingConfigError), results
    assert "already used by a run in this process" in str(errors[0])
    assert summaries[0]["status"] == "succeeded"
    settings = TargetSettings.from_config(config)
    statuses = query(settings, "SELECT status FROM jing_sync_runs")
    assert statuses == [("succeeded",)]


def test_an_observed_state_of_the_wrong_shape_is_a_config_error_naming_it(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE regs AS SELECT 'a' AS target_entity_uuid, 'u' AS user")
    settings = settings_for(
        engine_sandbox, tmp_path, observed_state="regs", observed_state_path=str(warehouse)
    )
    summary = run(settings, approvals(engine_sandbox, 5, "1"))
    assert summary.exit_code == 2 and summary.stopped_by == "config"
    assert "setting 'observed_state': regs lacks" in (summary.fatal_error or "")
    assert "omni_user_uuid" in (summary.fatal_error or "")
    assert batch_calls(engine_sandbox) == 0
    with pytest.raises(JingConfigError, match="needs 'observed_state_path'"):
        settings_for(engine_sandbox, tmp_path, observed_state="raw.activity_users")
