"""SIGTERM in the middle of `target-jing sync`: the process dies of it (a scheduler sees
143), and the next run records the killed run as aborted and finishes its work."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import duckdb
from surface_helpers import (
    BATCH_PATH,
    TARGET_JING,
    assert_sandbox_holds,
    minimum_calls,
    summary_of,
    update_calls,
    wanted_rows,
    write_config,
    write_warehouse,
)

from jing_sandbox.process import SandboxProcess
from jing_singer import exit_codes


def test_sigterm_mid_send_exits_143_and_the_next_run_completes(
    small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    rows = wanted_rows(small_sandbox)
    warehouse = write_warehouse(tmp_path / "warehouse.duckdb", rows)
    config = write_config(tmp_path / "config.json", small_sandbox.config(max_concurrency=1))
    args = [TARGET_JING, "sync", "--config", str(config), "--duckdb", str(warehouse)]
    args += ["--table", "wanted_status"]
    small_sandbox.faults(path=BATCH_PATH, slow=1.0, slow_seconds=0.5)

    with subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, text=True) as child:
        deadline = time.monotonic() + 60
        while update_calls(small_sandbox) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=60)

    assert child.returncode == -signal.SIGTERM
    assert update_calls(small_sandbox) < minimum_calls(rows)

    small_sandbox.faults()
    again = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, check=False)

    assert again.returncode == exit_codes.OK, again.stderr
    assert summary_of(again)["status"] == "succeeded"
    assert_sandbox_holds(small_sandbox, rows)
    with duckdb.connect(str(tmp_path / "jing_ledger.duckdb"), read_only=True) as ledger:
        runs = ledger.execute("SELECT status FROM jing_sync_runs ORDER BY started_at").fetchall()
        killed_run_logged = ledger.execute(
            """SELECT count(*) FROM jing_sync_log
               WHERE run_id = (SELECT min(run_id) FROM jing_sync_runs)"""
        ).fetchone()
    assert runs == [("aborted",), ("succeeded",)]
    assert killed_run_logged == (len(rows),), "every row of the killed run is logged"
