"""`target_jing.pyarrow_private` against the installed pyarrow: fails when pyarrow changes
how it looks for pandas. Each check runs in a fresh interpreter (this one has pandas)."""

from __future__ import annotations

import subprocess
import sys

PRELUDE = """
import sys
from target_jing.pyarrow_private import arrow_without_pandas, pandas_for_arrow
arrow_without_pandas()
import pyarrow as pa
import pyarrow.compute as pc
"""


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_converting_python_values_imports_no_pandas_after_the_first_look() -> None:
    out = run(
        "pa.array(['a', None], pa.string()); pa.scalar(1); pc.equal(pa.array([1]), 1)\n"
        "print('pandas' in sys.modules)"
    )
    assert out == "False"


def test_pandas_is_seen_at_once_when_a_batch_needs_it() -> None:
    """Left to find pandas by itself, pyarrow typed this empty frame's int column as null."""
    out = run(
        "pandas_for_arrow()\n"
        "import pandas as pd\n"
        "columns = {'n': pd.Series([], dtype='int64'), 's': pd.Series([], dtype=object)}\n"
        "frame = pd.DataFrame(columns)\n"
        "print(pa.Table.from_pandas(frame, preserve_index=False).schema.field('n').type)"
    )
    assert out == "int64"
