"""A PostgreSQL server per test worker, started once and stopped at the end."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_server import PostgresServer


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """Not under pytest's own temporary folder: the `postgres` user cannot enter that one."""
    folder = Path(tempfile.mkdtemp(prefix="jing-pg-"))
    try:
        server = PostgresServer.start(folder)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
