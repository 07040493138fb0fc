"""Fixtures of the engine tests (helpers live in engine_helpers.py)."""

from __future__ import annotations

from typing import Any

import pytest

from jing_sandbox.process import SandboxProcess


@pytest.fixture
def engine_sandbox(sandbox_factory: Any) -> SandboxProcess:
    """4 activities, 150 users, 400 registrations: several chunks, a few seconds a run."""
    return sandbox_factory(activities=4, users=150, registrations=400)
