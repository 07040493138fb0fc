"""Run the project's Meltano commands from Python (the demo and the end-to-end tests).

Meltano logs a lot; a person running the demo wants one line a step. So each
command's log goes to a file, its stdout (where the target and the decision step
print their summaries) comes back to the caller, and a failure raises with the
log's last lines, which is where Meltano and the plugins say what went wrong.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
LOG_TAIL_LINES = 25


class MeltanoFailed(RuntimeError):
    """A Meltano command exited non-zero; the message holds its command and log tail."""

    def __init__(self, command: list[str], returncode: int, log_tail: str, stdout: str) -> None:
        super().__init__(
            f"`{' '.join(command)}` exited with {returncode}; the end of its log:\n{log_tail}"
        )
        self.returncode = returncode
        self.stdout = stdout


def meltano_executable() -> Path:
    """Meltano from the venv that runs this Python (`.venv` for `make demo` and the tests)."""
    return Path(sys.executable).with_name("meltano")


def meltano(
    *args: str,
    log: Path,
    environment: str = "dev",
    env: Mapping[str, str] | None = None,
    project_dir: Path = PROJECT_DIR,
) -> str:
    """Run `meltano --environment ENV ARGS...` in the project; return its stdout.

    `env` is added to this process's environment (the sandbox URL, for one).
    """
    command = [str(meltano_executable()), "--environment", environment, *args]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as log_file:
        log_file.write(f"\n$ {' '.join(command)}\n")
        log_file.flush()
        done = subprocess.run(
            command,
            cwd=project_dir,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
        )
        log_file.write(done.stdout)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8").splitlines()[-LOG_TAIL_LINES:])
        raise MeltanoFailed(command, done.returncode, tail, done.stdout)
    return done.stdout


def install_fingerprint(project_dir: Path = PROJECT_DIR) -> str:
    """A hash of what the plugin venvs are built from: meltano.yml and the local packages."""
    sources = [project_dir / "meltano.yml", project_dir / "pyproject.toml"]
    sources += sorted((project_dir / "loaders").rglob("*.py")) + sorted(
        (project_dir / "loaders").rglob("pyproject.toml")
    )
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.relative_to(project_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def install_plugins(log: Path) -> bool:
    """`meltano install` unless the plugins were installed from these same files.

    Meltano reinstalls every plugin on each `install`, which would pull venvs from
    under a running command; so it runs under a lock, once per change of meltano.yml,
    pyproject.toml or loaders/ (the stamp in `.meltano/`). Returns whether it ran.
    """
    meltano_dir = PROJECT_DIR / ".meltano"
    meltano_dir.mkdir(parents=True, exist_ok=True)
    stamp = meltano_dir / "jing-install.stamp"
    with (meltano_dir / "jing-install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fingerprint = install_fingerprint()
        if stamp.exists() and stamp.read_text() == fingerprint:
            return False
        stamp.unlink(missing_ok=True)
        meltano("install", log=log)
        stamp.write_text(fingerprint)
        return True


def last_json_line(stdout: str) -> dict[str, Any]:
    """The JSON summary a command prints as its last stdout line."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise ValueError("the command printed nothing on stdout")
    summary = json.loads(lines[-1])
    if not isinstance(summary, dict):
        raise ValueError(f"the last stdout line is not a JSON object: {lines[-1]}")
    return summary
