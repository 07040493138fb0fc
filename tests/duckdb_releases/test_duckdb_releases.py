"""target-jing on both DuckDB releases that users have: 1.5 files under 2.x, and the reverse.

The tests' venv runs the current DuckDB (2.x). A second interpreter, `duckdb15`,
runs DuckDB 1.5.5 with everything else of that venv (its own site-packages first,
then the tests' venv through a `.pth`), so the same target-jing code writes and
reads files of both releases:

- a warehouse and a ledger written by DuckDB 1.5 are read, and written on, by
  DuckDB 2.x, and stay readable by 1.5 (DuckDB keeps a file's storage version);
- a file that DuckDB 1.5 cannot read (a new DuckDB 2.x file) exits 2 in one line
  that names the release that wrote it and how to read or convert it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from jing_sandbox.process import SandboxProcess
from jing_singer import exit_codes

OLD_RELEASE = "1.5.5"
RUN_TARGET_JING = (
    "import sys\n"
    "from target_jing.cli import main\n"
    "sys.argv = ['target-jing', *sys.argv[1:]]\n"
    "main()\n"
)
BATCH_PATH = "/v1/activity/update/userStatus/batch"


@pytest.fixture(scope="module")
def duckdb15() -> Iterator[Path]:
    """A Python whose DuckDB is 1.5.5 and whose other packages are the tests' venv's."""
    folder = Path(tempfile.mkdtemp(prefix="jing-duckdb15-"))
    try:
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        python = folder / "bin" / "python"
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"duckdb=={OLD_RELEASE}"],
            check=True,
            timeout=600,
        )
        own = _python(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])")
        ours = sysconfig.get_paths()["purelib"]
        (Path(own) / "zz_tests_venv.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
        found = _python(python, "import duckdb, target_jing; print(duckdb.__version__)")
        assert found == OLD_RELEASE
        yield python
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _target_jing(python: Path | str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-c", RUN_TARGET_JING, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if not k.startswith("TARGET_JING_")},
    )


def _python(python: Path | str, code: str) -> str:
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def _wanted(sandbox: SandboxProcess) -> list[dict[str, Any]]:
    return [
        {
            "entity_uuid": reg["target_entity_uuid"],
            "omni_user_uuid": reg["omni_user_uuid"],
            "approve_status": str(1 + i % 2),
            "signin_status": "1" if i % 3 == 0 else "0",
        }
        for i, reg in enumerate(sandbox.registrations())
    ]


def _write_warehouse(python: Path | str, path: Path, rows: list[dict[str, Any]]) -> None:
    """`path` holds `rows` as table `wanted`, written by the DuckDB of `python`."""
    data = path.with_suffix(".json")
    data.write_text(json.dumps(rows))
    _python(
        python,
        "import duckdb\n"
        f"con = duckdb.connect({str(path)!r})\n"
        f'con.execute("CREATE TABLE wanted AS SELECT * FROM read_json_auto({str(data)!r})")\n'
        "con.close()\n",
    )


def _release_of(path: Path) -> str:
    return path.read_bytes()[0x34:0x54].split(b"\0", 1)[0].decode()


def _calls(sandbox: SandboxProcess) -> int:
    return sandbox.stats()["calls"].get(BATCH_PATH, 0)


def test_files_of_duckdb_1_5_are_read_and_written_by_the_current_release(
    duckdb15: Path, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    rows = _wanted(sandbox)
    warehouse, ledger = tmp_path / "warehouse.duckdb", tmp_path / "ledger.duckdb"
    _write_warehouse(duckdb15, warehouse, rows[: len(rows) // 2])
    config = tmp_path / "config.json"
    config.write_text(json.dumps(sandbox.config(ledger_path=str(ledger))))
    sync = ("sync", "--config", str(config), "--duckdb", str(warehouse), "--table", "wanted")

    first = _target_jing(duckdb15, *sync, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert _release_of(warehouse) == _release_of(ledger) == f"v{OLD_RELEASE}"

    # The current release adds the other half to the 1.5 warehouse, and syncs on its ledger.
    rest = tmp_path / "rest.json"
    rest.write_text(json.dumps(rows[len(rows) // 2 :]))
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"INSERT INTO wanted SELECT * FROM read_json_auto('{rest}')")
    calls_before = _calls(sandbox)
    second = _target_jing(sys.executable, *sync, cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    summary = json.loads(second.stdout.strip().splitlines()[-1])
    assert summary["counts"]["applied"] == len(rows) - len(rows) // 2
    assert summary["counts"]["unchanged"] == len(rows) // 2
    assert _calls(sandbox) > calls_before
    held = {(r["target_entity_uuid"], r["omni_user_uuid"]): r for r in sandbox.registrations()}
    for row in rows:
        registration = held[(row["entity_uuid"], row["omni_user_uuid"])]
        assert registration["ems_approvestatus"] == row["approve_status"]
        assert registration["ems_signinstatus"] == row["signin_status"]

    # Both files kept DuckDB 1.5's storage: 1.5 still reads them, ledger commands included.
    for python in (duckdb15, sys.executable):
        runs = _target_jing(
            python, "runs", "--ledger", str(ledger), "--format", "json", cwd=tmp_path
        )
        assert runs.returncode == 0, runs.stderr[-2000:]
        assert len(runs.stdout.strip().splitlines()) == 2
        pending = _target_jing(python, "pending", "list", "--config", str(config), cwd=tmp_path)
        assert pending.returncode == 0, pending.stderr[-2000:]
    again = _target_jing(duckdb15, *sync, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout.strip().splitlines()[-1])["counts"]["unchanged"] == len(rows)


def test_a_file_that_the_installed_duckdb_cannot_read_names_its_release_and_the_way_out(
    duckdb15: Path, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """DuckDB 1.5 cannot read a file made by 2.x: the warehouse, the ledger, and `runs`."""
    current = f"v{duckdb.__version__}"
    if current.startswith("v1."):
        pytest.skip("the tests' venv runs DuckDB 1.x: no newer file to make")
    warehouse, ledger = tmp_path / "new-warehouse.duckdb", tmp_path / "new-ledger.duckdb"
    _write_warehouse(sys.executable, warehouse, _wanted(sandbox)[:5])
    with duckdb.connect(str(ledger)) as con:
        con.execute("CREATE TABLE t (a INTEGER)")
    config = tmp_path / "config.json"
    config.write_text(json.dumps(sandbox.config(ledger_path=str(ledger))))
    rows = tmp_path / "rows.csv"
    rows.write_text("entity_uuid,omni_user_uuid,signin_status\n")
    for args, path in (
        (
            ("sync", "--config", str(config), "--duckdb", str(warehouse), "--table", "wanted"),
            warehouse,
        ),
        (("sync", "--config", str(config), "--file", str(rows)), ledger),
        (("runs", "--ledger", str(ledger)), ledger),
    ):
        done = _target_jing(duckdb15, *args, cwd=tmp_path)
        output = done.stdout + done.stderr
        assert done.returncode == exit_codes.BAD_INPUT, output
        assert f"{path} was written by DuckDB {current}" in output
        assert f"pip install 'duckdb=={current[1:]}'" in output
        assert "EXPORT DATABASE" in output and "IMPORT DATABASE" in output
        assert "Traceback" not in output
        assert len([line for line in output.splitlines() if line.strip()]) == 1, output
    assert _calls(sandbox) == 0
