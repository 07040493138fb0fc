"""`jing-decide`: run the decision SQL of `transform/` against the DuckDB or PostgreSQL warehouse.

The decision step is plain SQL that a user edits, so the runner stays tiny: it runs
every `*.sql` file of a folder in name order, in one transaction, and reports how
many rows each table of the `decide` schema holds afterwards. One transaction means
a broken edit leaves yesterday's decisions in place instead of half of today's.
A failing file is named with DuckDB's message, and the exit code is 2, never a
bare traceback. We chose this over dbt-duckdb because the step is a handful of
statements: a runner of 100 lines installs nothing and starts in a blink, where
dbt brings its own project layout, profiles and a second large dependency tree.

The two engines' SQL differ (DuckDB's QUALIFY, CREATE OR REPLACE TABLE and JSON
lists; PostgreSQL's DISTINCT ON and JSONB), so each has its folder: `transform/`
for DuckDB and `transform/postgres/` for PostgreSQL (`--postgres URL`, through
psycopg, the `postgres` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jing_client.declarations import unknown_variables
from jing_singer.extras import require_extra

if TYPE_CHECKING:
    import duckdb  # here, so that --help and a missing extra need no DuckDB
    import psycopg

DECISION_SCHEMA = "decide"
DEFAULT_SQL_DIR = Path(__file__).resolve().parent.parent / "transform"
#: The same decisions in PostgreSQL's SQL.
DEFAULT_POSTGRES_SQL_DIR = DEFAULT_SQL_DIR / "postgres"
#: Row counts of every table and view in the decision schema (both engines).
COUNT_TABLES = (
    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY table_name"
)


class DecideError(Exception):
    """A decision step that cannot run; the message names the file or the setting."""


def sql_files(sql_dir: Path) -> list[Path]:
    """The transform's files in the order they run (by name, so `00_` runs first)."""
    if not sql_dir.is_dir():
        raise DecideError(f"sql_dir {sql_dir} is not a folder")
    files = sorted(sql_dir.glob("*.sql"))
    if not files:
        raise DecideError(f"sql_dir {sql_dir} holds no .sql file")
    return files


def decision_counts(
    con: duckdb.DuckDBPyConnection | psycopg.Connection, placeholder: str = "?"
) -> dict[str, int]:
    """Row counts of every table and view in the decision schema, for the run's summary.

    `placeholder` is the engine's bound-parameter mark: `?` for DuckDB, `%s` for psycopg.
    """
    names = con.execute(
        "SELECT table_name FROM information_schema.tables "
        f"WHERE table_schema = {placeholder} ORDER BY table_name",
        [DECISION_SCHEMA],
    ).fetchall()
    return {
        f"{DECISION_SCHEMA}.{name}": con.execute(
            f'SELECT count(*) FROM "{DECISION_SCHEMA}"."{name}"'
        ).fetchone()[0]
        for (name,) in names
    }


def run_transform(duckdb_path: Path, sql_dir: Path) -> dict[str, object]:
    """Run the transform's files in one transaction and return the run's summary."""
    files = sql_files(sql_dir)
    if not duckdb_path.exists():
        raise DecideError(f"duckdb_path {duckdb_path} does not exist: run the extract first")
    import duckdb  # here, so that --help and a missing extra need no DuckDB

    from target_jing.machine_faults import file_problem

    try:
        con = duckdb.connect(str(duckdb_path))
    except duckdb.Error as err:
        raise DecideError(f"duckdb_path: {file_problem(duckdb_path, err)}") from None
    with con:
        con.execute("BEGIN TRANSACTION")
        for path in files:
            try:
                con.execute(path.read_text(encoding="utf-8"))
            except duckdb.Error as err:
                con.execute("ROLLBACK")
                raise DecideError(f"{path.name}: {err}") from None
        con.execute("COMMIT")
        return {"sql_files": [path.name for path in files], "tables": decision_counts(con)}


def run_postgres_transform(url: str, sql_dir: Path) -> dict[str, object]:
    """The same on PostgreSQL: the files in one transaction; the URL's password never shown."""
    files = sql_files(sql_dir)
    import psycopg

    from jing_client.redact import first_line
    from target_jing.postgres_source import connect
    from target_jing.sources import SourceError

    try:
        con = connect(url, "--postgres")
    except SourceError as err:
        raise DecideError(str(err)) from None
    with con:
        for path in files:
            try:
                con.execute(path.read_text(encoding="utf-8"))  # type: ignore[arg-type]
            except psycopg.Error as err:
                con.rollback()
                raise DecideError(f"{path.name}: {first_line(err)}") from None
        con.commit()
        tables = decision_counts(con, placeholder="%s")
        return {"sql_files": [path.name for path in files], "tables": tables}


#: The utility's settings, as Meltano hands them over: `JING_DECIDE_<SETTING>`.
ENV_PREFIX = "JING_DECIDE_"
SETTINGS = ("duckdb_path", "postgres_url", "sql_dir")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Flags, with defaults from the environment that Meltano sets for the utility."""
    parser = argparse.ArgumentParser(prog="jing-decide", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duckdb",
        default=os.environ.get("JING_DECIDE_DUCKDB_PATH"),
        help="the warehouse file (env JING_DECIDE_DUCKDB_PATH)",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("JING_DECIDE_POSTGRES_URL"),
        help="a PostgreSQL warehouse instead (env JING_DECIDE_POSTGRES_URL)",
    )
    parser.add_argument(
        "--sql-dir",
        default=os.environ.get("JING_DECIDE_SQL_DIR"),
        help="folder of the decision SQL (env JING_DECIDE_SQL_DIR; default transform/, "
        "or transform/postgres/ with --postgres)",
    )
    args = parser.parse_args(argv)
    if problems := unknown_variables(os.environ, ENV_PREFIX, SETTINGS):
        parser.error("; ".join(problems))
    if bool(args.duckdb) == bool(args.postgres):
        parser.error("give one of --duckdb (JING_DECIDE_DUCKDB_PATH) or --postgres")
    if args.sql_dir is None:
        args.sql_dir = str(DEFAULT_POSTGRES_SQL_DIR if args.postgres else DEFAULT_SQL_DIR)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the decision step; the last stdout line is a JSON summary."""
    args = parse_args(argv)
    try:
        if args.postgres:
            require_extra("jing-decide --postgres", "target,postgres", ("psycopg", "pandas"))
            summary = run_postgres_transform(args.postgres, Path(args.sql_dir))
        else:
            require_extra("jing-decide", modules=("duckdb",))
            summary = run_transform(Path(args.duckdb), Path(args.sql_dir))
    except DecideError as err:
        print(f"jing-decide: {err}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
