"""Every fault class of `bench.chaos_faults` ends clean: the documented exit code, no
traceback, no secret in any output, the rest of the work done (issue 19).

Each scenario runs the real commands against a sandbox of its own; what each one
checks beyond those rules is in its docstring there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chaos_faults import FAULTS
from bench.fault_kit import Fault, run_fault


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(f, id=f.name.split(".")[0], marks=[pytest.mark.slow] if f.slow else [])
        for f in FAULTS
    ],
)
def test_the_fault_ends_clean(fault: Fault, tmp_path: Path) -> None:
    result = run_fault(fault, tmp_path / "out", tmp_path / "private")
    assert result.problems == []
    assert result.tracebacks == 0
    assert result.secret_hits == 0
    assert result.wrong == 0
