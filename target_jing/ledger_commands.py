"""`target-jing runs` and `target-jing pending`: the ledger, read and acted on without other tools.

    target-jing runs [--config C | --ledger PATH] [--limit N] [--format table|json]
    target-jing runs show RUN_ID [--outcome OUTCOME] [--config C | --ledger PATH] [--format ...]
    target-jing pending list|retry|drop --config C [--activity ID] [--user ID]
                        [--state pending|given_up|permanent] [--reason TEXT] [--format ...]

A table is printed by default, JSON lines with `--format json`. `pending` acts on
the rows of the destination that the config names (`base_url`, `app_id`);
`retry` puts rows back in play with their attempts and age afresh, `drop`
removes them, and each action is logged in `jing_pending_actions`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import chain, islice
from pathlib import Path
from typing import Any

import duckdb

from jing_singer import exit_codes
from target_jing import shell
from target_jing.ledger import (
    OUTCOMES,
    PENDING_STATES,
    Ledger,
    PendingFilter,
    destination_of,
    iter_dict_rows,
)
from target_jing.ledger_home import LedgerConnection, LedgerHome, open_database, stream
from target_jing.settings import DEFAULT_LEDGER_NAME, TargetSettings

logger = logging.getLogger("target-jing")

#: The columns `runs` shows, in order.
#: Rows whose cells set a table's column widths (the rest streams after them).
TABLE_WIDTH_ROWS = 1_000
#: DuckDB's memory for sorting a run's log before it is streamed (it spills past this).
READ_MEMORY = "64MB"

RUN_COLUMNS = (
    "run_id",
    "started_at",
    "mode",
    "status",
    "rows_in",
    "applied",
    "unchanged",
    "failed",
    "rejected",
    "superseded",
    "update_calls",
    "seconds",
)
LOG_COLUMNS = (
    "source",
    "row_index",
    "entity_uuid",
    "omni_user_uuid",
    "outcome",
    "failure",
    "reason",
)
PENDING_COLUMNS = (
    "entity_uuid",
    "omni_user_uuid",
    "state",
    "failure",
    "attempts",
    "first_wanted_at",
    "last_reason",
)


def runs(argv: Sequence[str]) -> int:
    """`target-jing runs [show RUN_ID]`; return the exit code."""
    parser = _parser("runs", "List the ledger's last runs, or show one run's rows.")
    parser.add_argument("show", nargs="?", choices=["show"], help="show one run's rows")
    parser.add_argument("run_id", nargs="?", help="the run to show")
    parser.add_argument("--outcome", choices=OUTCOMES, help="with show: only rows of this outcome")
    parser.add_argument("--limit", type=int, default=20, help="runs to list (default 20)")
    _ledger_location(parser)
    args = parser.parse_args(argv)
    if args.show and not args.run_id:
        parser.error("runs show needs a RUN_ID")
    try:
        home = _ledger_home(args)
        if not home.on_postgres and not (home.path and home.path.is_file()):
            sys.stderr.write(
                f"target-jing runs: no ledger at {home} (no run has written one yet)\n"
            )
            return exit_codes.BAD_INPUT
        con = open_database(home, read_only=True)
    except Exception as exc:  # a bad setting, a file that does not open
        return shell.stopped_by(exc, logger)
    with con:
        try:
            # A run's log may be millions of rows: sorted within this memory, then streamed.
            _for_streaming(con)
            if args.show:
                _print(_run_rows(con, args.run_id, args.outcome), LOG_COLUMNS, args.format)
            else:
                _print(_last_runs(con, args.limit), RUN_COLUMNS, args.format)
        except BrokenPipeError:
            raise  # the reader left: `cli.main` ends quietly
        except Exception as exc:  # the database or the machine failing
            return shell.stopped_by(exc, logger)
    return exit_codes.OK


def pending(argv: Sequence[str]) -> int:
    """`target-jing pending list|retry|drop`; return the exit code."""
    parser = _parser("pending", "See and act on the rows that wait in jing_pending.")
    parser.add_argument("action", choices=["list", "retry", "drop"])
    parser.add_argument("--config", action="append", required=True, help="as for sync")
    parser.add_argument("--activity", metavar="ID", help="only this activity (entity_uuid)")
    parser.add_argument("--user", metavar="ID", help="only this user (omni_user_uuid)")
    parser.add_argument("--state", choices=PENDING_STATES, help="only rows in this state")
    parser.add_argument("--reason", metavar="TEXT", help="only rows whose reason contains TEXT")
    args = parser.parse_args(argv)
    where = PendingFilter(args.activity, args.user, args.state, args.reason)
    try:
        settings = shell.settings_from(shell.read_config(args.config))
        ledger = Ledger(settings.ledger_home, _destination(settings))
    except Exception as exc:  # a bad setting, a ledger that does not open
        return shell.stopped_by(exc, logger)
    try:
        if args.action == "list":
            _for_streaming(ledger.con)
            _print(ledger.pending_rows(where), PENDING_COLUMNS, args.format)
        else:
            count = ledger.act_on_pending(args.action, where)
            done = "back to pending" if args.action == "retry" else "dropped"
            sys.stdout.write(f"{count:,} pending rows {done} (logged in jing_pending_actions)\n")
    except BrokenPipeError:
        raise  # the reader left: `cli.main` ends quietly
    except Exception as exc:  # the database or the machine failing
        return shell.stopped_by(exc, logger)
    finally:
        ledger.close()
    return exit_codes.OK


def _parser(command: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"target-jing {command}", description=description)
    parser.add_argument(
        "--format", choices=["table", "json"], default="table", help="a table, or JSON lines"
    )
    return parser


def _ledger_location(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--config", action="append", help="the config whose ledger to read")
    where.add_argument("--ledger", metavar="PATH", help="the ledger file to read")


def _ledger_home(args: argparse.Namespace) -> LedgerHome:
    if args.ledger:
        return LedgerHome(path=Path(args.ledger))
    if args.config:
        return shell.settings_from(shell.read_config(args.config)).ledger_home
    return LedgerHome(path=Path("output") / DEFAULT_LEDGER_NAME)


def _destination(settings: TargetSettings) -> str:
    return destination_of(settings.client.base_url, settings.client.app_id)


def _last_runs(con: LedgerConnection, limit: int) -> Iterator[dict[str, Any]]:
    cursor = stream(
        con,
        "SELECT run_id, started_at, mode, status, rows_in, applied, unchanged, failed, rejected, "
        "superseded, update_calls, CAST(CAST(extract(epoch FROM ended_at - started_at) "
        "AS NUMERIC(18, 1)) AS DOUBLE PRECISION) AS seconds "
        "FROM jing_sync_runs ORDER BY started_at DESC LIMIT ?",
        [limit],
    )
    return iter_dict_rows(cursor)


def _run_rows(con: LedgerConnection, run_id: str, outcome: str | None) -> Iterator[dict[str, Any]]:
    cursor = stream(
        con,
        f"SELECT {', '.join(LOG_COLUMNS)} FROM jing_sync_log WHERE run_id = $run "
        "AND ($outcome IS NULL OR outcome = $outcome) ORDER BY source, row_index",
        {"run": run_id, "outcome": outcome},
    )
    return iter_dict_rows(cursor)


def _for_streaming(con: LedgerConnection) -> None:
    """Sort within `READ_MEMORY` (spilling past it), on one thread (each holds buffers of
    its own), in no order but the query's own. (PostgreSQL sorts on its server.)"""
    if not isinstance(con, duckdb.DuckDBPyConnection):
        return
    con.execute(f"SET memory_limit = '{READ_MEMORY}'")
    con.execute("SET threads = 1")
    con.execute("SET preserve_insertion_order = false")


def _print(rows: Iterable[dict[str, Any]], columns: Sequence[str], form: str) -> None:
    """JSON lines, or a table with one line of dashes under the header, as rows come.

    The table's widths are those of its first `TABLE_WIDTH_ROWS` rows (a longer cell
    later only pushes its line), so nothing waits for, or holds, the whole result.
    """
    rows = iter(rows)
    if form == "json":
        for row in rows:
            sys.stdout.write(json.dumps({c: _plain(row.get(c)) for c in columns}) + "\n")
        return
    first = [[_cell(row.get(c)) for c in columns] for row in islice(rows, TABLE_WIDTH_ROWS)]
    widths = [max([len(c), *(len(line[i]) for line in first)]) for i, c in enumerate(columns)]
    rest = ([_cell(row.get(c)) for c in columns] for row in rows)
    for line in chain((list(columns), ["-" * w for w in widths]), first, rest):
        sys.stdout.write("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
        sys.stdout.write("\n")
    if not first:
        sys.stdout.write("(none)\n")


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    return text if len(text) <= 90 else text[:87] + "..."
