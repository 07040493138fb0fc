"""target-jing under real Meltano: `meltano run` from a PyPI tap, `meltano invoke ...:sync`.

Each test runs in a copy of the project's meltano.yml (its target-jing loader,
settings and `sync` command as shipped) in a temporary folder, with two
changes: target-jing's `pip_url` points at this checkout, and the upstream tap
is `tap-spreadsheets` from PyPI (pinned), reading a CSV of status rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from surface_helpers import (
    assert_sandbox_holds,
    minimum_calls,
    update_calls,
    wanted_rows,
    write_warehouse,
)

from jing_sandbox.process import SandboxProcess

PROJECT = Path(__file__).resolve().parents[3]
MELTANO = str(Path(sys.executable).with_name("meltano"))
TAP = {
    "name": "tap-spreadsheets",
    "namespace": "tap_spreadsheets",
    "pip_url": "tap-spreadsheets==1.1.2",
    "executable": "tap-spreadsheets",
    "capabilities": ["catalog", "discover", "state", "about", "stream-maps"],
    "settings": [{"name": "files", "kind": "array"}],
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Meltano project holding the shipped target-jing loader and a CSV tap, installed."""
    root = tmp_path_factory.mktemp("meltano")
    shipped = yaml.safe_load((PROJECT / "meltano.yml").read_text())
    loader = next(p for p in shipped["plugins"]["loaders"] if p["name"] == "target-jing")
    loader["pip_url"] = f"-e {PROJECT}[target]"
    csv = root / "statuses.csv"
    tap = {**TAP, "config": {"files": [{"path": str(csv), "format": "csv"}]}}
    tap["config"]["files"][0].update(
        table_name="status_updates", primary_keys=["activity_id", "user_id"]
    )
    config = {
        "default_environment": "dev",
        "project_id": "target-jing-surface-tests",
        "send_anonymous_usage_stats": False,
        "plugins": {"extractors": [tap], "loaders": [loader]},
        "environments": [{"name": "dev"}],
    }
    (root / "meltano.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    installed = meltano(root, {}, "install")
    assert installed.returncode == 0, installed.stderr[-3000:]
    return root


def meltano(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MELTANO, *args],
        cwd=root,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def sandbox_env(sandbox: SandboxProcess) -> dict[str, str]:
    """Settings as Meltano users give them: environment variables, the secret included."""
    return {
        "TARGET_JING_APP_ID": sandbox.app_id,
        "TARGET_JING_APP_SECRET": sandbox.app_secret,
        "TARGET_JING_BASE_URL": sandbox.url,
    }


def test_meltano_run_from_a_pypi_tap_into_target_jing(
    project: Path, small_sandbox: SandboxProcess
) -> None:
    rows = wanted_rows(small_sandbox, limit=60)
    pd.DataFrame(rows).to_csv(project / "statuses.csv", index=False)
    ledger = project / "run-ledger.duckdb"
    env = {**sandbox_env(small_sandbox), "TARGET_JING_LEDGER_PATH": str(ledger)}

    proc = meltano(project, env, "run", "tap-spreadsheets", "target-jing")

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert update_calls(small_sandbox) == minimum_calls(rows)
    assert_sandbox_holds(small_sandbox, rows)
    assert ledger.is_file()
    assert small_sandbox.app_secret not in proc.stdout + proc.stderr


def test_meltano_invoke_sync_command(
    project: Path, small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    rows = wanted_rows(small_sandbox, limit=60)
    warehouse = write_warehouse(tmp_path / "warehouse.duckdb", rows)
    query = "SELECT * FROM wanted_status"

    proc = meltano(
        project,
        sandbox_env(small_sandbox),
        *("invoke", "target-jing:sync", "--duckdb", str(warehouse), "--query", query),
    )

    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["update_calls"] == minimum_calls(rows) == update_calls(small_sandbox)
    assert_sandbox_holds(small_sandbox, rows)
    # The ledger defaults to the warehouse's folder, where users query it.
    assert (tmp_path / "jing_ledger.duckdb").is_file()
    assert small_sandbox.app_secret not in proc.stdout + proc.stderr
