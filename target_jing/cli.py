"""The `target-jing` command: `target-jing sync ...` for warehouse input, else the Singer target.

`sync` (`target_jing.sync_command`) reads a DuckDB table or query, or a
CSV/Parquet file, and runs one `SyncRun` on it. Every other invocation
(`--config ... < records`, `--about`, `--version`) is the SDK's Singer target
CLI. Each path imports only what it needs, and without the `target` extra both
say which one to install.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from jing_singer.extras import require_extra


def main(argv: Sequence[str] | None = None) -> None:
    """Console script entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    require_extra("target-jing")
    if args[:1] == ["sync"]:
        from target_jing.sync_command import sync

        sys.exit(sync(args[1:]))
    from target_jing.target import TargetJing

    TargetJing.cli()
