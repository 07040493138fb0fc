"""tap-jing's paths import nothing of the target's: the base install (no extra) serves them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jing_sandbox.process import SandboxProcess

#: What only target-jing needs; the tap must run without any of it installed.
TARGET_ONLY = ("duckdb", "pandas", "pyarrow", "tqdm", "target_jing", "orchestrate")

PROBE = """
import json, sys
sys.argv = ["tap-jing", *json.loads(sys.argv[1])]
from tap_jing.tap import TapJing
try:
    TapJing.cli()
except SystemExit:
    pass
names = {json.dumps(TARGET_ONLY)}
sys.stderr.write("LOADED " + json.dumps(sorted(n for n in names if n in sys.modules)) + "\\n")
"""


@pytest.mark.parametrize("mode", ["--about", "--discover"])
def test_tap_commands_import_nothing_of_the_target(
    mode: str, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(sandbox.config()))
    args = (
        ["--about", "--format", "json"]
        if mode == "--about"
        else ["--config", str(config), "--discover"]
    )
    code = PROBE.replace("{json.dumps(TARGET_ONLY)}", json.dumps(list(TARGET_ONLY)))
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    loaded = next(line for line in done.stderr.splitlines() if line.startswith("LOADED "))
    assert json.loads(loaded.removeprefix("LOADED ")) == []
    assert '"streams"' in done.stdout or '"settings"' in done.stdout
