"""The options of `target-jing sync`, parsed before anything heavy is imported.

`--help` and a usage mistake answer at once (argparse exits 2 for the latter);
only a run that goes ahead imports DuckDB, pandas and the engine.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

#: `--postgres env:NAME` reads the URL from the variable NAME: a command line is logged
#: (Meltano at debug level, `ps`), an environment is not.
FROM_ENVIRONMENT = "env:"


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """The parsed options; argparse exits 2 on bad usage, naming the option."""
    parser = _parser()
    args = parser.parse_args(argv)
    for given, option in ((args.duckdb, "--duckdb"), (args.postgres, "--postgres")):
        if given and not (args.table or args.query):
            parser.error(f"{option} needs --table NAME or --query SQL")
    if args.file and (args.table or args.query):
        parser.error("--table and --query go with --duckdb or --postgres, not --file")
    if args.postgres and args.postgres.startswith(FROM_ENVIRONMENT):
        name = args.postgres[len(FROM_ENVIRONMENT) :]
        args.postgres = os.environ.get(name)
        if not args.postgres:
            parser.error(f"--postgres {FROM_ENVIRONMENT}{name}: the variable {name} is not set")
    return args


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="target-jing sync",
        description=(
            "Write activity user statuses from a DuckDB or PostgreSQL table or query, or a "
            "CSV/Parquet file, back to JING. Sends only rows whose wanted values differ from "
            "what the API last confirmed, and logs every row in the ledger."
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
    source.add_argument(
        "--postgres",
        metavar="URL",
        help="A PostgreSQL database (postgresql://user:password@host/db, or env:NAME to read it "
        "from the variable NAME, so no command line shows it; read-only, streamed; needs the "
        "'postgres' extra).",
    )
    source.add_argument("--file", metavar="PATH", help="A .csv or .parquet file of status rows.")
    rows = parser.add_mutually_exclusive_group()
    rows.add_argument("--table", metavar="NAME", help="With --duckdb/--postgres: a table or view.")
    rows.add_argument(
        "--query", metavar="SQL", help="With --duckdb/--postgres: a query returning the rows."
    )
    parser.add_argument(
        "--shard",
        metavar="K/N",
        help="Take only the activities whose id hashes to shard K of N, so that N runs can "
        "share the work (with shards_share_budget, each takes 1/N of the API's budget).",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="Plan and log; send nothing.")
    mode.add_argument(
        "--full", action="store_true", help="Send every row, ignoring what the ledger says applied."
    )
    return parser
