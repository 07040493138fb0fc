"""The `api` fixture: a logged-in bare client on the small `sandbox`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sandbox_api import Api

from jing_sandbox.process import SandboxProcess


@pytest.fixture
def api(sandbox: SandboxProcess) -> Iterator[Api]:
    """A logged-in bare client on the small `sandbox`."""
    client = Api(sandbox)
    client.login()
    yield client
    client.session.close()
