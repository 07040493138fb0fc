"""The Meltano project end to end on `dev`: extract, decide, write back, write back again."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import duckdb
import pytest
from pipeline_checks import UPDATE_PATH, expected_statuses, statuses

from jing_sandbox.process import SandboxProcess
from orchestrate.demo import seed_checkins
from orchestrate.meltano_commands import last_json_line, meltano

DECISIONS = "decide.registrant_status"


@pytest.mark.slow
def test_meltano_extract_decide_write_back(
    project_copy: Path, pipeline_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    run = partial(
        meltano,
        log=tmp_path / "meltano.log",
        project_dir=project_copy,
        env={
            "TAP_JING_BASE_URL": pipeline_sandbox.url,
            "TARGET_JING_BASE_URL": pipeline_sandbox.url,
        },
    )
    before = statuses(pipeline_sandbox.registrations())
    warehouse = project_copy / "output" / "warehouse.duckdb"

    run("run", "tap-jing", "target-warehouse")
    # The warehouse holds every record (target-duckdb 0.8.0 alone drops one per batch;
    # loaders/target_duckdb_header_fix is what keeps it), in a file of DuckDB 2's own.
    counts = pipeline_sandbox.counts()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        loaded = {
            table: con.execute(f"SELECT count(*) FROM raw.{table}").fetchall()[0][0]
            for table in ("activities", "activity_users", "users")
        }
    assert loaded == {
        "activities": counts["activities"],
        "activity_users": counts["registrations"],
        "users": counts["users"],
    }
    assert warehouse.read_bytes()[0x34:0x36] == b"v2"
    assert seed_checkins(warehouse, one_in=3) > 0
    decided = last_json_line(run("invoke", "jing-decide"))
    assert decided["tables"]["decide.registrant_status"] > 0

    first = last_json_line(
        run("invoke", "target-jing:sync", "--duckdb", str(warehouse), "--table", DECISIONS)
    )
    assert first["status"] == "succeeded"
    assert first["counts"]["failed"] == first["counts"]["rejected"] == 0
    assert first["counts"]["applied"] == decided["tables"]["decide.registrant_status"]
    after = statuses(pipeline_sandbox.registrations())
    assert after == expected_statuses(before, warehouse)
    assert after != before

    # Again, as the daily job (decide, then write back) on the same data: nothing to send.
    calls = pipeline_sandbox.stats()["calls"].get(UPDATE_PATH, 0)
    run("run", "jing-writeback")
    assert pipeline_sandbox.stats()["calls"].get(UPDATE_PATH, 0) == calls
    second = last_json_line(run("invoke", "target-jing-sync:decisions"))
    assert second["update_calls"] == 0
    assert second["counts"]["unchanged"] == first["counts"]["applied"]
    assert statuses(pipeline_sandbox.registrations()) == after
