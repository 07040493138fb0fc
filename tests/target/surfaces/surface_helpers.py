"""Helpers for the target-jing surface tests: wanted rows, a warehouse, the CLI in a child.

The wanted rows are derived from the sandbox's own registrations, so every row
can be applied, and the expected number of update calls is computed here
independently of the engine (group by activity and exact values, 100 users a call).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from jing_sandbox.process import SandboxProcess

BATCH_PATH = "/v1/activity/update/userStatus/batch"
TARGET_JING = str(Path(sys.executable).parent / "target-jing")
#: A naive warehouse time (read as UTC) and what the API must hold (Asia/Shanghai).
SIGNIN_AT = pd.Timestamp("2025-10-01 08:00:00")
SIGNIN_AT_API = "2025-10-01 16:00:00"


def wanted_rows(sandbox: SandboxProcess, limit: int | None = None) -> list[dict[str, Any]]:
    """One row per registration, with statuses that mostly differ from the seeded ones."""
    rows = []
    for i, reg in enumerate(sandbox.registrations()[:limit]):
        signed_in = i % 3 == 0
        rows.append(
            {
                "activity_id": reg["target_entity_uuid"],
                "user_id": reg["omni_user_uuid"],
                "approve_status": str(1 + i % 2),
                "signin_status": "1" if signed_in else "0",
                "signin_time": SIGNIN_AT if signed_in else None,
                "note": "never sent",
            }
        )
    return rows


def minimum_calls(rows: Iterable[Mapping[str, Any]], batch_size: int = 100) -> int:
    """The fewest batch calls: per activity and exact set of values, ceil(users / batch)."""
    groups = Counter(
        (r["activity_id"], r["approve_status"], r["signin_status"], str(r["signin_time"]))
        for r in rows
    )
    return sum(math.ceil(n / batch_size) for n in groups.values())


def write_warehouse(path: Path, rows: list[dict[str, Any]], table: str = "wanted_status") -> Path:
    """A real DuckDB file holding `rows` in `table` (created in schema `main`)."""
    frame = pd.DataFrame(rows)
    with duckdb.connect(str(path)) as con:
        con.register("frame", frame)
        quoted = '"' + table.replace('"', '""') + '"'
        con.execute(f"CREATE OR REPLACE TABLE {quoted} AS SELECT * FROM frame")
    return path


def assert_sandbox_holds(sandbox: SandboxProcess, rows: Iterable[Mapping[str, Any]]) -> None:
    """Every row's wanted values are what the sandbox now holds."""
    held = {(r["target_entity_uuid"], r["omni_user_uuid"]): r for r in sandbox.registrations()}
    for row in rows:
        reg = held[(row["activity_id"], row["user_id"])]
        assert reg["ems_approvestatus"] == row["approve_status"], row
        assert reg["ems_signinstatus"] == row["signin_status"], row
        if row["signin_time"] is not None:
            assert reg["ems_signintimestamp"] == SIGNIN_AT_API, row


def update_calls(sandbox: SandboxProcess) -> int:
    return sandbox.stats()["calls"].get(BATCH_PATH, 0)


def run_target(
    *args: str,
    cwd: Path,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`target-jing ARGS` in a child process, as a scheduler would run it."""
    return subprocess.run(
        [TARGET_JING, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def summary_of(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON summary: the last line of stdout."""
    lines = proc.stdout.strip().splitlines()
    assert lines, f"no stdout; stderr: {proc.stderr[-2000:]}"
    return json.loads(lines[-1])


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    path.write_text(json.dumps(config))
    return path
