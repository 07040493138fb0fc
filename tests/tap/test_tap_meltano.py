"""`meltano run tap-jing target-warehouse` from the project, into a DuckDB file (dev)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from jing_sandbox.process import SandboxProcess

PROJECT = Path(__file__).resolve().parents[2]
MELTANO = str(Path(sys.executable).with_name("meltano"))


def meltano(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MELTANO, *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def emitted(stderr: str, stream: str) -> int:
    """Records the tap counted for `stream`, from the SDK's record_count metrics in the log."""
    total = 0
    for line in stderr.splitlines():
        if "METRIC: " in line and '"record_count"' in line:
            point = json.loads(line.split("METRIC: ", 1)[1])
            if point["tags"]["stream"] == stream:
                total += point["value"]
    return total


def table_counts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            name: con.execute(f"SELECT count(*) FROM raw.{name}").fetchall()[0][0]
            for name in ("activities", "activity_users", "users")
        }


@pytest.mark.slow
def test_meltano_run_loads_every_record_the_sandbox_holds(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    env = {
        **os.environ,
        # The project's meltano.yml, with plugin venvs and Meltano's state under tmp_path.
        "MELTANO_PROJECT_ROOT": str(PROJECT),
        "MELTANO_SYS_DIR_ROOT": str(tmp_path / ".meltano"),
        "MELTANO_ENVIRONMENT": "dev",
        "TAP_JING_BASE_URL": sandbox.url,
        "TARGET_WAREHOUSE_FILEPATH": str(warehouse),
    }
    installed = meltano(env, "install", "tap-jing", "target-warehouse")
    assert installed.returncode == 0, installed.stderr[-3000:]

    first = meltano(env, "run", "tap-jing", "target-warehouse")
    assert first.returncode == 0, first.stderr[-3000:]
    counts = sandbox.counts()
    expected = {
        "activities": counts["activities"],
        "activity_users": counts["registrations"],
        "users": counts["users"],
    }
    assert table_counts(warehouse) == expected

    # Meltano keeps the state: the next run is incremental and changes nothing.
    sandbox.reset()
    second = meltano(env, "run", "tap-jing", "target-warehouse")
    assert second.returncode == 0, second.stderr[-3000:]
    assert table_counts(warehouse) == expected
    assert emitted(first.stderr, "activity_users") == counts["registrations"]
    assert emitted(second.stderr, "activity_users") == 0
    calls = sandbox.stats()["calls"]
    assert calls.get("/v1/user/list") == 1, "users were read from the bookmark, one page"
