"""The README's shell blocks marked `<!-- runnable -->` run as shown, on a fresh setup.

Each runs in a fresh folder that holds only the checkout's `.venv` and `examples/`
(what a new user has after `make install`), with `PORT` set to a free port.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"<!-- runnable -->\s*```bash\n(.*?)```", re.DOTALL)


def runnable_blocks() -> list[str]:
    return BLOCK.findall((ROOT / "README.md").read_text())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_readme_has_runnable_blocks() -> None:
    assert len(runnable_blocks()) >= 1


@pytest.mark.parametrize("number", range(len(runnable_blocks())))
def test_a_runnable_block_runs_as_shown(number: int, tmp_path: Path) -> None:
    venv = Path(sys.executable).parent.parent
    (tmp_path / ".venv").symlink_to(venv)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", runnable_blocks()[number]],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PORT": str(_free_port()), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    if number == 0:
        lines = done.stdout.splitlines()
        assert int(lines[0]) > 0, "records extracted"
        dry, second, third = (json.loads(line) for line in lines if line.startswith('{"run_id"'))
        assert dry["counts"]["planned"] == 8 and dry["update_calls"] == 0
        assert second["counts"]["applied"] == 8 and second["exit_code"] == 0
        assert third["update_calls"] == 0 and third["counts"]["unchanged"] == 8
