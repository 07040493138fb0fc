"""Say which extra to install when a command's heavy dependencies are missing.

The base install serves tap-jing; target-jing and jing-decide need the `target`
extra (DuckDB, pandas, pyarrow). Without it their commands say so in one line,
exit 2, and show no traceback.
"""

from __future__ import annotations

import importlib.util
import sys

#: The modules the `target` extra brings.
TARGET_MODULES = ("duckdb", "pandas", "pyarrow")


def require_extra(
    command: str, extra: str = "target", modules: tuple[str, ...] = TARGET_MODULES
) -> None:
    """Exit 2 with the pip command to run when one of `modules` is not installed."""
    absent = [name for name in modules if importlib.util.find_spec(name) is None]
    if absent:
        sys.stderr.write(
            f"{command} needs the '{extra}' extra ({', '.join(absent)} not installed): "
            f"pip install 'jing-connectors[{extra}]'\n"
        )
        sys.exit(2)
