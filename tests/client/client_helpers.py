"""Helpers for the client tests: settings for a sandbox, and reading its counters."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from jing_client import ClientSettings
from jing_sandbox.process import SandboxProcess

# Backoff in hundredths of a second and no practical client-side rate limit, unless a
# test asks otherwise: the behaviour is the same, the suite stays fast.
FAST = {
    "backoff_base_seconds": 0.01,
    "backoff_max_seconds": 0.05,
    "max_attempts": 4,
    "max_retry_seconds": 10.0,
    "requests_per_second": 1000.0,
    "connect_timeout": 2.0,
    "read_timeout": 5.0,
}


def settings_for(sandbox: SandboxProcess, **overrides: Any) -> ClientSettings:
    """Client settings for `sandbox`, with the fast defaults above."""
    return ClientSettings.from_config(sandbox.config(**{**FAST, **overrides}))


def path_calls(sandbox: SandboxProcess, path: str) -> int:
    """How many calls the sandbox has seen on `path`."""
    return int(sandbox.stats()["calls"].get(path, 0))


def answers(sandbox: SandboxProcess, code: int | str) -> int:
    """How many answers the sandbox gave with `code` (or a kind such as "http_500")."""
    return int(sandbox.stats()["answers"].get(str(code), 0))


def run_in_threads(n: int, work: Callable[[], None]) -> list[BaseException]:
    """Run `work` in `n` threads that start together; return what they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run() -> None:
        barrier.wait()
        try:
            work()
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
