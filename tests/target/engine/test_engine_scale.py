"""10,000 rows from a DuckDB table, clean and under faults and throttling (slow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from engine_helpers import (
    assert_every_row_logged,
    assert_sandbox_holds,
    batch_calls,
    expected_calls,
    settings_for,
    wanted_rows,
)

from jing_sandbox.process import SandboxProcess
from target_jing.engine import RunSummary, SyncRun
from target_jing.settings import TargetSettings

pytestmark = pytest.mark.slow

BIG_SANDBOX = {"activities": 20, "users": 3000, "registrations": 12000}
ROWS = 10_000


@pytest.fixture
def big_sandbox(sandbox_factory: Any) -> SandboxProcess:
    return sandbox_factory(**BIG_SANDBOX)


def warehouse_table(path: Path, rows: list[dict[str, Any]]) -> Path:
    """The rows as a typed DuckDB table: integers, text and a TIMESTAMP column."""
    with duckdb.connect(str(path)) as con:
        con.register("frame", pd.DataFrame(rows))
        con.execute(
            "CREATE TABLE decisions AS SELECT activity_id, user_id, "
            "approve_status::INTEGER AS approve_status, signin_status, "
            "signin_time::TIMESTAMP AS signin_time, comment FROM frame"
        )
    return path


def sync_table(settings: TargetSettings, warehouse: Path) -> RunSummary:
    with duckdb.connect(str(warehouse), read_only=True) as con, SyncRun(settings) as sync:
        sync.add_relation(con.sql("SELECT * FROM decisions"), source="duckdb:decisions")
        return sync.finish()


def test_ten_thousand_rows_from_a_table_in_minimum_calls(
    big_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    rows = wanted_rows(big_sandbox, limit=ROWS)
    assert len(rows) == ROWS
    warehouse = warehouse_table(tmp_path / "warehouse.duckdb", rows)
    settings = settings_for(big_sandbox, tmp_path)

    first = sync_table(settings, warehouse)
    assert first.counts["applied"] == ROWS and first.status == "succeeded"
    assert first.update_calls == first.minimum_calls == expected_calls(rows)
    assert batch_calls(big_sandbox) == first.minimum_calls
    assert_sandbox_holds(big_sandbox, rows)

    second = sync_table(settings, warehouse)
    assert second.update_calls == 0 and batch_calls(big_sandbox) == first.minimum_calls
    assert second.counts["unchanged"] == ROWS
    assert_every_row_logged(settings)


def test_faults_and_throttling_still_reach_the_wanted_state(
    big_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    rows = wanted_rows(big_sandbox, limit=ROWS, variant=1)
    warehouse = warehouse_table(tmp_path / "warehouse.duckdb", rows)
    # Throttling answers come as HTTP 429 and as code 42900, half each: from the rate
    # limit (the client asks faster than it) and injected, so both forms surely occur.
    big_sandbox.configure(
        rate_limit=40, throttle_http_ratio=0.5, retry_after=0, expire_token_every=25
    )
    big_sandbox.faults(
        throttle=0.1, http_5xx=0.05, code_50000=0.05, malformed=0.03, slow=0.06, slow_seconds=1.0
    )
    settings = settings_for(big_sandbox, tmp_path, requests_per_second=200, read_timeout=0.5)

    summary = sync_table(settings, warehouse)
    stats = big_sandbox.stats()
    assert stats["throttled_http"] > 0 and stats["throttled_code"] > 0
    injected = stats["faults_injected"]
    assert all(injected.get(kind, 0) > 0 for kind in ("http_5xx", "code_50000", "slow"))
    assert summary.client_stats["token_refreshes"] + summary.client_stats["token_fetches"] > 1
    assert summary.counts["applied"] == ROWS and summary.status == "succeeded"
    assert summary.update_calls == summary.minimum_calls  # retries are the client's, not calls
    assert_sandbox_holds(big_sandbox, rows)
    assert_every_row_logged(settings)
