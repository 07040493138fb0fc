"""`target-jing sync`: write back the rows of a DuckDB or PostgreSQL table or query, or a file.

Its stdout is ours, so it ends with the JSON summary line. The settings are built
without a Singer target (`shell.settings_from`), and nothing here imports the
Singer SDK. The options are parsed first, by `sync_options`, which imports
nothing heavy: `--help` and a usage mistake answer at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import duckdb

from jing_client.redact import install_filter
from jing_singer.extras import require_extra
from target_jing import machine_faults, shell
from target_jing.early_warehouse import EarlyConnection
from target_jing.engine import RunSummary, SyncRun, run_mode
from target_jing.progress import ProgressReporter
from target_jing.report import write_report
from target_jing.settings import TargetSettings
from target_jing.shards import Shard
from target_jing.sources import SourceError, open_source

logger = logging.getLogger("target-jing")


def sync(args: argparse.Namespace, warehouse: EarlyConnection | None = None) -> int:
    """Run `target-jing sync` with its parsed options (`sync_options`); return the exit code.

    `warehouse` is the `--duckdb` file, being opened already (`early_warehouse`).
    """
    logging.basicConfig(
        level=_log_level(),
        stream=sys.stderr,
        format="%(asctime)s | %(levelname)-8s | %(name)s | %(message)s",
    )
    install_filter()
    shell.stop_on_signals()
    try:
        settings = shell.settings_from(
            shell.read_config(args.config), warehouse_path=args.duckdb, warehouse_url=args.postgres
        )
        shard = None if args.shard is None else Shard.parse(args.shard)
        with _opened(args, warehouse) as stage:
            mode = run_mode(dry_run=args.dry_run, full=args.full)
            summary = _run(settings, stage, mode, shard)
    except Exception as exc:  # a locked ledger, bad input, the database or machine failing
        return shell.stopped_by(exc, logger)
    if summary.fatal_error:
        logger.error("Stopped: %s", summary.fatal_error)
    code = shell.exit_code(summary)
    write_report(summary, code, human=sys.stdout, machine=sys.stdout)
    return code


#: Stages the opened source's rows into a run.
Stage = Callable[[SyncRun], object]


@contextmanager
def _opened(args: argparse.Namespace, warehouse: EarlyConnection | None = None) -> Iterator[Stage]:
    """Open the source the options name (before the ledger: a bad source touches nothing).

    The source closes as soon as its rows are staged: they are durable in the ledger
    by then, and a warehouse's connection would only hold its cache (and a server's
    cursor) while the run sends.
    """
    with ExitStack() as source_open:
        if args.postgres:
            require_extra("target-jing sync --postgres", "postgres", ("psycopg",))
            from target_jing.postgres_source import open_postgres

            rows = source_open.enter_context(
                open_postgres(args.postgres, table=args.table, query=args.query)
            )

            def stage(run: SyncRun) -> int:
                with source_open:
                    return run.add_batches(rows.columns, rows.batches, rows.label)

        else:
            source = source_open.enter_context(
                open_source(
                    duckdb_path=args.duckdb,
                    table=args.table,
                    query=args.query,
                    file=args.file,
                    opening=warehouse,
                )
            )

            def stage(run: SyncRun) -> int:
                with source_open:
                    try:
                        return run.add_relation(source.relation, source=source.label)
                    except duckdb.Error as exc:
                        if machine_faults.passing(exc):
                            raise  # the ledger's disk or server, not the source
                        raise SourceError(f"reading {source.label}: {exc}") from exc

        yield stage


def _run(settings: TargetSettings, stage: Stage, mode: str, shard: Shard | None) -> RunSummary:
    """Stage the source's rows (this shard's), then plan, send and record them as one run."""
    progress = ProgressReporter(interval_seconds=settings.progress_interval_seconds)
    try:
        with SyncRun(settings, mode=mode, on_progress=progress, shard=shard) as run:
            if shard is not None:
                client = run.settings.client
                logger.info(
                    "shard %s: the activities that hash to it; %g requests/s, %d in flight",
                    shard,
                    client.requests_per_second,
                    client.max_concurrency,
                )
            stage(run)
            return run.finish()
    finally:
        progress.close()


def _log_level() -> int:
    """`TARGET_JING_LOGLEVEL` (or `LOGLEVEL`), as the Singer mode reads it; INFO by default."""
    name = (os.environ.get("TARGET_JING_LOGLEVEL") or os.environ.get("LOGLEVEL") or "").upper()
    level = logging.getLevelName(name)
    return level if isinstance(level, int) else logging.INFO
