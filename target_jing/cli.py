"""The `target-jing` command: the Singer target, and the commands `sync`, `runs` and `pending`.

`sync` (`target_jing.sync_command`) reads a DuckDB table or query, or a
CSV/Parquet file, and runs one `SyncRun` on it; `runs` and `pending`
(`target_jing.ledger_commands`) read and act on the ledger. Every other
invocation (`--config ... < records`, `--about`, `--version`) is the SDK's
Singer target CLI. Each path imports only what it needs, and without the
`target` extra each says which one to install. Output into a closed pipe
(`| head -1`) ends quietly.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from jing_singer.extras import require_extra
from jing_singer.process import freeze_imports, one_blas_thread, system_arrow_allocator

COMMANDS = {
    "sync": "write statuses back from a DuckDB or PostgreSQL table or query, or a CSV/Parquet file",
    "runs": "list the ledger's last runs; `runs show RUN_ID` lists one run's rows and reasons",
    "pending": "list, retry or drop the rows that wait in jing_pending",
}


def main(argv: Sequence[str] | None = None) -> None:
    """Console script entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["--help"], ["-h"]):
        _commands_help()
    require_extra("target-jing")
    one_blas_thread()
    system_arrow_allocator()
    try:
        _run(args)
    finally:
        # What a run imported late (pyarrow, numpy) is left out of the exit's garbage
        # collections, which walk every object: 10-20 ms of a 10,000-row run's wall.
        freeze_imports()


def _run(args: list[str]) -> None:
    command = _command(args[:1])
    if command is None:
        from target_jing.target import TargetJing

        freeze_imports()
        TargetJing.cli()
        return
    try:
        code = command(args[1:])
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`| head -1`): nothing more to say, and no traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)


def _command(first: list[str]) -> Callable[[Sequence[str]], int] | None:
    if first == ["sync"]:
        return _sync
    if first in (["runs"], ["pending"]):
        from target_jing import ledger_commands

        return ledger_commands.runs if first == ["runs"] else ledger_commands.pending
    return None


def _sync(argv: Sequence[str]) -> int:
    """Parse the options first, so that `--help` does not wait for the engine's imports;
    then open the warehouse's file while they run (`early_warehouse`)."""
    from target_jing.sync_options import parse

    args = parse(argv)
    from target_jing.early_warehouse import early_warehouse
    from target_jing.pyarrow_private import arrow_without_numpy_allowed

    # Only a batch of bad rows needs numpy (pandas), and only while staging.
    with arrow_without_numpy_allowed(), early_warehouse(args.duckdb) as warehouse:
        from target_jing.sync_command import sync

        freeze_imports()
        return sync(args, warehouse)


def _commands_help() -> None:
    """The commands, one line each, above the Singer target's own options."""
    lines = ["target-jing commands (`target-jing COMMAND --help` for each):"]
    lines += [f"  {name:<8} {text}" for name, text in COMMANDS.items()]
    lines += ["", "Without a command, target-jing is the Singer target (records on stdin):", ""]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
