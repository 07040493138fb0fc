"""Shared fixtures: sandboxes over real HTTP on 127.0.0.1, a real PostgreSQL (each stops by
itself)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pg_server import PostgresServer

from jing_sandbox.process import SandboxProcess

# Small and fast, and no throttling unless a test asks for it.
SMALL_SANDBOX = {"activities": 5, "users": 300, "registrations": 1000, "rate_limit": 10000}


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., SandboxProcess]]:
    """Start sandboxes with custom flags (small sizes by default); all stop at teardown."""
    started: list[SandboxProcess] = []

    def start(**flags: Any) -> SandboxProcess:
        sb = SandboxProcess(**{**SMALL_SANDBOX, "max_in_flight": 100, **flags}).start()
        started.append(sb)
        return sb

    yield start
    for sb in started:
        sb.stop()


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., SandboxProcess]) -> SandboxProcess:
    """A small sandbox: 5 activities, 300 users, ~1,000 registrations, no practical limits."""
    return sandbox_factory()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server per test worker, started once and stopped at the end.

    Not under pytest's own temporary folder: the `postgres` user cannot enter that one.
    """
    folder = Path(tempfile.mkdtemp(prefix="jing-pg-"))
    try:
        server = PostgresServer.start(folder)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
