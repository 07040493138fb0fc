"""What every chaos scenario shares: its size, its sandbox, the client settings, the watcher.

Each scenario starts a sandbox of its own, so no fault, token or row leaks from
one scenario into the next. The secrets every sandbox issued are collected as
the scenario ends (and before a restart, which forgets them), for the leak hunt.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jing_sandbox.process import SandboxError, SandboxProcess

BATCH_PATH = "/v1/activity/update/userStatus/batch"

#: The client as the matrix runs it: fast pacing on loopback, patient retries. A
#: hostile API needs more attempts than the default 8 (scenario 8 fails a third of
#: all attempts); short backoffs keep the matrix quick. Answers slower than
#: `read_timeout` are the "slow" fault.
CLIENT_SETTINGS: dict[str, Any] = {
    "requests_per_second": 150,
    "max_concurrency": 5,
    "connect_timeout": 2.0,
    "read_timeout": 1.0,
    "max_attempts": 15,
    "max_retry_seconds": 120,
    "backoff_base_seconds": 0.05,
    "backoff_max_seconds": 1.0,
    "progress_interval_seconds": 3600,
}
#: The sandbox's own limits: high enough that only injected faults throttle.
SANDBOX_LIMITS: dict[str, Any] = {"rate_limit": 300, "max_in_flight": 20}
SLOW_SECONDS = 1.5


@dataclass
class Options:
    """The size of the matrix: full (`make chaos`) or short (`make test`)."""

    workdir: Path
    rows: int = 20_000
    kills: int = 5
    unregistered: int = 1_000
    seed: int = 6
    short: bool = False
    secrets: set[str] = field(default_factory=set)
    #: Config files hold the app secret: they are inputs, kept apart from what is hunted.
    private: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="chaos-config-")))

    @classmethod
    def short_matrix(cls, workdir: Path, seed: int = 6) -> Options:
        return cls(workdir=workdir, rows=2_000, kills=2, unregistered=100, seed=seed, short=True)

    def config_file(self, name: str, config: dict[str, Any]) -> Path:
        """Write a config (which holds the secret) outside the workdir, readable by us only."""
        path = self.private / name
        path.write_text(json.dumps(config))
        os.chmod(path, 0o600)
        return path

    def scenario_dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def keep_secrets(options: Options, sandbox: SandboxProcess) -> None:
    """Remember the app secret and every token the sandbox issued (it forgets them on restart)."""
    options.secrets.add(sandbox.app_secret)
    issued = sandbox.tokens()
    for values in issued.values():
        options.secrets.update(values)


def end_every_token(options: Options, sandbox: SandboxProcess) -> None:
    """End the access and the refresh tokens now (noted first for the leak hunt)."""
    keep_secrets(options, sandbox)
    sandbox.expire_tokens(access=True, refresh=True)


def update_calls_seen(sandbox: SandboxProcess) -> int:
    """Batch-update calls the sandbox answered since it (re)started."""
    return int(sandbox.stats()["calls"].get(BATCH_PATH, 0))


def calls_seen(sandbox: SandboxProcess) -> int:
    return sum(int(n) for n in sandbox.stats()["calls"].values())


class Watcher:
    """Runs `action` once `count()` reaches `threshold` (polled); a thread, stopped on exit."""

    def __init__(self, count: Callable[[], int], threshold: int, action: Callable[[], None]):
        self._count = count
        self._threshold = threshold
        self._action = action
        self._stop = threading.Event()
        self.fired = False
        self.error: str | None = None
        self._thread = threading.Thread(target=self._watch, name="chaos-watcher", daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _watch(self) -> None:
        try:
            while not self._stop.wait(0.02):
                if self._count() >= self._threshold:
                    self._action()
                    self.fired = True
                    return
        except (SandboxError, OSError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"


def faults_seen(sandbox: SandboxProcess) -> str:
    """What the sandbox injected since it (re)started, and how many tokens it issued."""
    stats = sandbox.stats()
    counts = {**stats.get("faults_injected", {}), "throttled": stats.get("throttled", 0)}
    injected = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v) or "none"
    return f"faults injected: {injected}; tokens issued: {stats.get('tokens_issued', 0)}"


def elapsed(since: float) -> float:
    return time.monotonic() - since
