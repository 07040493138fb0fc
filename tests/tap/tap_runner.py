"""Running tap-jing as its console script, the way Meltano and a scheduler run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TAP = str(Path(sys.executable).with_name("tap-jing"))


@dataclass
class TapRun:
    """One finished `tap-jing` process: exit code, raw output, and its messages by kind."""

    returncode: int
    stdout: str
    stderr: str
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    state: dict[str, Any] | None = None

    def count(self, stream: str) -> int:
        return len(self.records.get(stream, []))


def parse_messages(run: TapRun) -> TapRun:
    """Fill `records`, `schemas` and the last `state` from the Singer messages on stdout."""
    for line in run.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            run.records.setdefault(message["stream"], []).append(message["record"])
        elif message["type"] == "SCHEMA":
            run.schemas[message["stream"]] = message["schema"]
        elif message["type"] == "STATE":
            run.state = message["value"]
    return run


def run_tap_cli(
    workdir: Path,
    config: dict[str, Any],
    state: dict[str, Any] | None = None,
    *args: str,
    env: dict[str, str] | None = None,
) -> TapRun:
    """Run `tap-jing --config FILE [--state FILE] [args]`; a plain sync's output is parsed.

    `env` adds variables to this process's environment (e.g. `TAP_JING_LOGLEVEL`).
    """
    runs = len(list(workdir.glob("config-*.json")))
    config_file = workdir / f"config-{runs}.json"
    config_file.write_text(json.dumps(config))
    command = [TAP, "--config", str(config_file), *args]
    if state is not None:
        state_file = workdir / f"state-{runs}.json"
        state_file.write_text(json.dumps(state))
        command += ["--state", str(state_file)]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **(env or {})},
    )
    run = TapRun(done.returncode, done.stdout, done.stderr)
    return parse_messages(run) if done.returncode == 0 and not args else run
