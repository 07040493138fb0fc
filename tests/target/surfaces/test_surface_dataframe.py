"""`sync_dataframe`: a pandas DataFrame and a config in, the run summary out."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from surface_helpers import assert_sandbox_holds, minimum_calls, update_calls, wanted_rows

from jing_sandbox.process import SandboxProcess
from target_jing import sync_dataframe


def test_sync_dataframe_applies_rows_and_returns_the_summary(
    small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    rows = wanted_rows(small_sandbox, limit=40)
    config = small_sandbox.config(ledger_path=str(tmp_path / "ledger.duckdb"))

    preview = sync_dataframe(pd.DataFrame(rows), config, dry_run=True)
    summary = sync_dataframe(pd.DataFrame(rows), config)
    again = sync_dataframe(pd.DataFrame(rows), config)

    assert preview["counts"]["planned"] == len(rows)
    assert summary["status"] == "succeeded"
    assert summary["counts"]["applied"] == len(rows)
    assert summary["update_calls"] == minimum_calls(rows) == update_calls(small_sandbox)
    assert_sandbox_holds(small_sandbox, rows)
    assert again["update_calls"] == 0
    assert again["counts"]["unchanged"] == len(rows)
