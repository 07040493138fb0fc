"""`target-jing sync`: write back the rows of a DuckDB table or query, or a CSV/Parquet file.

Its stdout is ours, so it ends with the JSON summary line. The settings are built
without a Singer target (`shell.settings_from`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

import duckdb

from jing_client import JingError
from jing_client.redact import install_filter
from target_jing import shell
from target_jing.engine import RunSummary, SyncRun, run_mode
from target_jing.progress import ProgressReporter
from target_jing.report import write_report
from target_jing.settings import TargetSettings
from target_jing.sources import Source, SourceError, open_source

logger = logging.getLogger("target-jing")


def sync(argv: Sequence[str]) -> int:
    """Run `target-jing sync`; return the exit code (argparse exits 2 on bad usage itself)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.duckdb and not (args.table or args.query):
        parser.error("--duckdb needs --table NAME or --query SQL")
    if args.file and (args.table or args.query):
        parser.error("--table and --query go with --duckdb, not --file")
    logging.basicConfig(
        level=_log_level(),
        stream=sys.stderr,
        format="%(asctime)s | %(levelname)-8s | %(name)s | %(message)s",
    )
    install_filter()
    shell.stop_on_signals()
    try:
        settings = shell.settings_from(shell.read_config(args.config), warehouse_path=args.duckdb)
        with open_source(
            duckdb_path=args.duckdb, table=args.table, query=args.query, file=args.file
        ) as source:
            summary = _run(settings, source, run_mode(dry_run=args.dry_run, full=args.full))
    except (SourceError, JingError) as exc:  # also a ledger locked by another run
        return shell.stopped_by(exc, logger)
    if summary.fatal_error:
        logger.error("Stopped: %s", summary.fatal_error)
    code = shell.exit_code(summary)
    write_report(summary, code, human=sys.stdout, machine=sys.stdout)
    return code


def _run(settings: TargetSettings, source: Source, mode: str) -> RunSummary:
    """Stage the source's rows, then plan, send and record them as one run."""
    progress = ProgressReporter(interval_seconds=settings.progress_interval_seconds)
    try:
        with SyncRun(settings, mode=mode, on_progress=progress) as run:
            try:
                run.add_relation(source.relation, source=source.label)
            except duckdb.Error as exc:
                raise SourceError(f"reading {source.label}: {exc}") from exc
            return run.finish()
    finally:
        progress.close()


def _log_level() -> int:
    """`TARGET_JING_LOGLEVEL` (or `LOGLEVEL`), as the Singer mode reads it; INFO by default."""
    name = (os.environ.get("TARGET_JING_LOGLEVEL") or os.environ.get("LOGLEVEL") or "").upper()
    level = logging.getLevelName(name)
    return level if isinstance(level, int) else logging.INFO


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="target-jing sync",
        description=(
            "Write activity user statuses from a DuckDB table or query, or a CSV/Parquet "
            "file, back to JING. Sends only rows whose wanted values differ from what the "
            "API last confirmed, and logs every row in the ledger."
        ),
        epilog="Exit codes: 0 all applied or unchanged; 1 failed or rejected rows above "
        "max_failed_ratio; 2 bad config or input; 3 fatal authentication or permission error; "
        "4 API unreachable, run aborted, rows pending.",
    )
    parser.add_argument(
        "--config",
        action="append",
        required=True,
        help="A JSON config file, or ENV for TARGET_JING_* variables; repeat to merge.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--duckdb", metavar="PATH", help="The warehouse DuckDB file (read-only).")
    source.add_argument("--file", metavar="PATH", help="A .csv or .parquet file of status rows.")
    rows = parser.add_mutually_exclusive_group()
    rows.add_argument("--table", metavar="NAME", help="With --duckdb: a table or view name.")
    rows.add_argument("--query", metavar="SQL", help="With --duckdb: a query returning the rows.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="Plan and log; send nothing.")
    mode.add_argument(
        "--full", action="store_true", help="Send every row, ignoring what the ledger says applied."
    )
    return parser
