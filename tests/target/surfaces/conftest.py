"""Fixtures of the target-jing surface tests (helpers live in surface_helpers.py)."""

from __future__ import annotations

from typing import Any

import pytest

from jing_sandbox.process import SandboxProcess


@pytest.fixture
def small_sandbox(sandbox_factory: Any) -> SandboxProcess:
    """3 activities, 120 users, 240 registrations: a few calls per run."""
    return sandbox_factory(activities=3, users=120, registrations=240)
