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


def _fresh(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


#: The engine's imports for recording answers, as its first calls go out.
WITHOUT_NUMPY = """
import sys
from contextlib import nullcontext
from target_jing import pyarrow_private
from target_jing.engine import _prepare_recording
with {allow}:
    _prepare_recording()
import pyarrow as pa
"""


def test_a_command_that_allows_it_records_answers_with_a_pyarrow_without_numpy() -> None:
    """The echoes are checked in Arrow as usual, by compute functions called by name (no
    `pyarrow.compute`); a numpy conversion says numpy is missing."""
    code = WITHOUT_NUMPY.format(allow="pyarrow_private.arrow_without_numpy_allowed()") + (
        "from zoneinfo import ZoneInfo\n"
        "from jing_client.client import Envelope\n"
        "from target_jing.echo_answers import answers_table\n"
        "from target_jing.plan import Chunk\n"
        "from target_jing.send import Answered\n"
        "chunk = Chunk(1, 'act', {'ems_approvestatus': '1'}, ['a', 'b'], input_rows=2)\n"
        "data = [{'target_entity_uuid': 'act', 'omni_user_uuid': 'a', 'ems_approvestatus': '1'}]\n"
        "echo = Envelope(data, 0, 'success', 'r' * 32, 200, None)\n"
        "table = answers_table([Answered(chunk, [], [], calls=1, echo=echo)], ZoneInfo('UTC'))\n"
        "print(table.column('outcome').to_pylist(), 'numpy' in sys.modules,\n"
        "      'pyarrow.compute' in sys.modules)\n"
        "try:\n    table.column('outcome').to_numpy()\nexcept ImportError as exc:\n"
        "    print('numpy' in str(exc).lower())\n"
    )
    assert _fresh(code).splitlines() == ["['applied', 'failed'] False False", "True"]


def test_without_the_commands_say_pyarrow_keeps_numpy() -> None:
    """A program that uses the engine as a library: pyarrow converts numpy arrays as usual."""
    code = WITHOUT_NUMPY.format(allow="nullcontext()") + (
        "import numpy as np\nprint(pa.array(np.arange(3)).to_pylist())\n"
    )
    assert _fresh(code) == "[0, 1, 2]"
