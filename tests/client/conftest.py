"""Clients pointed at a sandbox, with small waits so that retries finish quickly.

`sandbox` here is one sandbox per test module, put back as new before each test
(no faults, the start-up limits, re-seeded data, zeroed stats): starting a child
process for each test would cost more than the tests. Tests that need other
start-up flags, or a fault sequence from a fresh seed, use `sandbox_factory`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from client_helpers import settings_for

from jing_client import JingClient
from jing_sandbox.process import SandboxProcess

# The flags of the root conftest's small sandbox.
SHARED_FLAGS = {
    "activities": 5,
    "users": 300,
    "registrations": 1000,
    "rate_limit": 10000,
    "max_in_flight": 100,
}


@pytest.fixture(scope="module")
def module_sandbox() -> Iterator[tuple[SandboxProcess, dict[str, Any]]]:
    """One small sandbox for a test module, with its run-time settings as started."""
    with SandboxProcess(**SHARED_FLAGS) as sandbox:
        yield sandbox, sandbox.configure()


@pytest.fixture
def sandbox(module_sandbox: tuple[SandboxProcess, dict[str, Any]]) -> SandboxProcess:
    """The module's sandbox, as new: no faults, start-up limits, re-seeded data, zeroed stats."""
    sandbox, started_with = module_sandbox
    sandbox.faults()
    sandbox.configure(**started_with)
    sandbox.reset(data=True)
    return sandbox


@pytest.fixture
def client_factory() -> Iterator[Callable[..., JingClient]]:
    """Make clients for a sandbox (`client_factory(sandbox, **settings)`); all close at teardown."""
    made: list[JingClient] = []

    def make(sandbox: SandboxProcess, **overrides: Any) -> JingClient:
        client = JingClient(settings_for(sandbox, **overrides))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
