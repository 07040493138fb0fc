"""The `tap-jing` command: the SDK's tap CLI in a process tuned first (`jing_singer.process`).

The tap is imported inside `main`, after the tuning: the SDK brings numpy (through
joblib), whose OpenBLAS threads start at its import.
"""

from __future__ import annotations

from jing_singer.process import freeze_imports, one_blas_thread


def main() -> None:
    """Console script entry point."""
    one_blas_thread()
    from tap_jing.tap import TapJing

    freeze_imports()
    TapJing.cli()
