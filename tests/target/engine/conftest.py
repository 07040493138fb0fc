"""Fixtures of the engine tests (helpers live in engine_helpers.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from jing_sandbox.process import SandboxProcess


@pytest.fixture
def engine_sandbox(sandbox_factory: Any) -> SandboxProcess:
    """4 activities, 150 users, 400 registrations: several chunks, a few seconds a run."""
    return sandbox_factory(activities=4, users=150, registrations=400)


# The drift tests build their warehouse with the chaos matrix's own helpers (bench/).
_ROOT = Path(__file__).resolve().parents[3]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))
