"""SIGKILL in the middle of a run: the next run finishes the work and loses no row."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine_helpers import (
    assert_every_row_logged,
    assert_sandbox_holds,
    batch_calls,
    query,
    run,
    settings_for,
    wanted_rows,
)

from jing_sandbox.process import SandboxProcess
from target_jing.send import IN_FLIGHT_PER_WORKER

#: A child that runs one sync of the rows in a JSON file with the given config.
CHILD = """
import json, sys
from target_jing.engine import SyncRun
from target_jing.settings import TargetSettings
config, rows = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
with SyncRun(TargetSettings.from_config(config)) as sync:
    sync.add_records(rows, source="singer:wanted")
    print("staged", flush=True)
    sync.finish()
"""


def test_sigkill_mid_run_then_the_next_run_completes(
    engine_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    rows = wanted_rows(engine_sandbox)
    # Small chunks, paced: the run takes seconds, so the kill lands mid-send.
    slow = {"batch_size": 5, "requests_per_second": 15, "max_concurrency": 2}
    settings = settings_for(engine_sandbox, tmp_path, **slow)
    config = engine_sandbox.config(ledger_path=str(settings.ledger_path), **slow)
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "config.json"), str(tmp_path / "rows.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"staged"
        deadline = time.monotonic() + 60
        while batch_calls(engine_sandbox) < 15 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    sent_before_kill = batch_calls(engine_sandbox)

    after = run(settings, [])  # no input: the killed run's rows come back from the ledger
    assert after.status == "succeeded"
    assert_sandbox_holds(engine_sandbox, rows)
    assert_every_row_logged(settings)
    killed_id, status, fatal = query(
        settings, "SELECT run_id, status, fatal_error FROM jing_sync_runs ORDER BY started_at"
    )[0]
    assert status == "aborted" and "killed" in fatal
    recorded_chunks, minimum = query(
        settings,
        "SELECT count(DISTINCT chunk_id) FILTER (outcome = 'applied'), "
        "(SELECT minimum_calls FROM jing_sync_runs WHERE run_id = $run) "
        "FROM jing_sync_log WHERE run_id = $run",
        {"run": killed_id},  # type: ignore[arg-type]
    )[0]
    assert 0 < recorded_chunks < minimum
    # Only the chunks not recorded are sent again, and few were in flight.
    assert after.update_calls <= minimum - recorded_chunks
    assert sent_before_kill - recorded_chunks <= IN_FLIGHT_PER_WORKER * slow["max_concurrency"]
    assert batch_calls(engine_sandbox) - sent_before_kill == after.update_calls
    assert query(settings, "SELECT count(*) FROM jing_pending")[0][0] == 0
