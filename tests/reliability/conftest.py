"""Fixtures of the reliability tests (issue 6): the bench package on the path, a sandbox.

The chaos matrix lives in `bench/` (it is a benchmark that prints figures), and
these tests run its short version, so the repository root must be importable.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
