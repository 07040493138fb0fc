"""Clients pointed at a sandbox, with small waits so that retries finish quickly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from client_helpers import settings_for

from jing_client import JingClient
from jing_sandbox.process import SandboxProcess


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
