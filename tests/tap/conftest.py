"""Fixtures of the tap's tests."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from tap_runner import TapRun, run_tap_cli


@pytest.fixture
def run_tap(tmp_path: Path) -> Callable[..., TapRun]:
    """`run_tap(config, state=None, *args)`: one `tap-jing` process, files under tmp_path."""
    return partial(run_tap_cli, tmp_path)
