"""`make demo` runs to the end and shows the before/after table and the write-back summary.

It runs in a copy of the project (`project_copy`), so the repository's `output/`,
where a person's own `make demo` left its files to look at, is left alone.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orchestrate.meltano_commands import PROJECT_DIR

#: `make demo` uses the sandbox's default size; the smoke test needs less to prove it runs.
SMALL = ("--activities", "12", "--users", "600", "--registrations", "2400")


@pytest.mark.slow
def test_demo_runs_and_shows_what_changed(project_copy: Path) -> None:
    output = PROJECT_DIR / "output"
    before = {p: p.stat().st_mtime_ns for p in output.rglob("*")} if output.exists() else {}
    done = subprocess.run(
        [sys.executable, "-m", "orchestrate.demo", *SMALL, "--project", str(project_copy)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    table = out[out.index("activity type  status") :]
    rows = [line.split() for line in table.splitlines()[2:] if line.strip()]
    pending = [row for row in rows if row[-5:-3] == ["pending", "review"]]
    assert pending, table
    # every pending registrant of a published activity was decided: fewer pending after
    assert any(int(row[-2].replace(",", "")) < int(row[-3].replace(",", "")) for row in pending)
    assert "Write-back summary" in out and "update calls" in out
    assert "Second write-back (the daily job on the same data): 0 update calls" in out
    assert "the sandbox is stopped" in out
    assert (project_copy / "output" / "warehouse.duckdb").is_file()
    after = {p: p.stat().st_mtime_ns for p in output.rglob("*")} if output.exists() else {}
    assert after == before, "the demo in a copy touched the repository's output/"
