"""Helpers of the engine tests: wanted rows from the sandbox, runs, and ledger invariants.

The expected number of update calls is computed here from the rows themselves
(group by activity and exact values, ceil(users / batch)), not by the engine.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from jing_sandbox.process import SandboxProcess
from target_jing.engine import RunSummary, SyncRun
from target_jing.settings import TargetSettings

BATCH_PATH = "/v1/activity/update/userStatus/batch"
#: A naive time (read in UTC by default) and what the API must then hold (Asia/Shanghai).
NAIVE_TIME = "2025-03-01 02:00:00"
NAIVE_TIME_API = "2025-03-01 10:00:00"
FIELDS = ("ems_signinstatus", "ems_approvestatus", "ems_signintimestamp", "ems_approvetimestamp")


def settings_for(sandbox: SandboxProcess, tmp_path: Path, **overrides: Any) -> TargetSettings:
    """Target settings for `sandbox`, with the ledger in `tmp_path` and quick retries."""
    config = sandbox.config(
        ledger_path=str(tmp_path / "ledger.duckdb"),
        backoff_base_seconds=0.01,
        backoff_max_seconds=0.2,
        **overrides,
    )
    return TargetSettings.from_config(config)


def wanted_rows(
    sandbox: SandboxProcess, limit: int | None = None, variant: int = 0
) -> list[dict[str, Any]]:
    """One row per registration; `variant` shifts the statuses so runs can ask for new values."""
    rows = []
    for i, reg in enumerate(sandbox.registrations()[:limit]):
        k = i + variant
        rows.append(
            {
                "activity_id": reg["target_entity_uuid"],
                "user_id": reg["omni_user_uuid"],
                "approve_status": k % 3,  # an integer: must be sent as "0", "1", "2"
                "signin_status": "1" if k % 2 else "0",
                "signin_time": NAIVE_TIME if k % 2 else None,
                "comment": "never sent",
            }
        )
    return rows


def expected_calls(rows: Iterable[Mapping[str, Any]], batch_size: int = 100) -> int:
    groups = Counter(
        (r["activity_id"], str(r["approve_status"]), r["signin_status"], r["signin_time"])
        for r in rows
    )
    return sum(math.ceil(n / batch_size) for n in groups.values())


def run(
    settings: TargetSettings,
    rows: list[dict[str, Any]] | None = None,
    *,
    mode: str = "normal",
    frame: pd.DataFrame | None = None,
) -> RunSummary:
    with SyncRun(settings, mode=mode) as sync:  # type: ignore[arg-type]
        if rows is not None:
            sync.add_records(rows, source="singer:wanted")
        if frame is not None:
            sync.add_dataframe(frame, source="dataframe")
        return sync.finish()


def batch_calls(sandbox: SandboxProcess) -> int:
    return int(sandbox.stats()["calls"].get(BATCH_PATH, 0))


def assert_sandbox_holds(sandbox: SandboxProcess, rows: Iterable[Mapping[str, Any]]) -> None:
    held = {(r["target_entity_uuid"], r["omni_user_uuid"]): r for r in sandbox.registrations()}
    for row in rows:
        reg = held[(row["activity_id"], row["user_id"])]
        assert reg["ems_approvestatus"] == str(row["approve_status"]), (row, reg)
        assert reg["ems_signinstatus"] == row["signin_status"], (row, reg)
        if row["signin_time"] is not None:
            assert reg["ems_signintimestamp"] == NAIVE_TIME_API, (row, reg)


def query(settings: TargetSettings, sql: str, params: list[Any] | None = None) -> list[tuple]:
    with duckdb.connect(str(settings.ledger_path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def outcomes(settings: TargetSettings, run_id: str) -> dict[str, int]:
    return dict(
        query(
            settings,
            "SELECT outcome, count(*) FROM jing_sync_log WHERE run_id = ? GROUP BY outcome",
            [run_id],
        )
    )


def assert_every_row_logged(settings: TargetSettings) -> None:
    """Each run logged exactly one row per row in, and no run was left unfinished."""
    runs = query(settings, "SELECT run_id, rows_in, status FROM jing_sync_runs")
    for run_id, rows_in, status in runs:
        assert status != "running", run_id
        logged, distinct = query(
            settings,
            "SELECT count(*), count(DISTINCT (source, row_index)) FROM jing_sync_log "
            "WHERE run_id = ?",
            [run_id],
        )[0]
        assert logged == distinct == rows_in, (run_id, logged, distinct, rows_in)
    leftovers = query(
        settings,
        "SELECT (SELECT count(*) FROM jing_staged) + (SELECT count(*) FROM jing_work) "
        "+ (SELECT count(*) FROM jing_calls)",
    )[0][0]
    assert leftovers == 0


def ledger_text(settings: TargetSettings) -> str:
    """Every value of every ledger table, as one text (for leak hunts)."""
    tables = [name for (name,) in query(settings, "SELECT table_name FROM duckdb_tables()")]
    parts = []
    for table in tables:
        parts.extend(str(row) for row in query(settings, f"SELECT * FROM {table}"))
    return "\n".join(parts)
