"""Open the input of `target-jing sync`: a DuckDB table or query, or a CSV/Parquet file.

The warehouse is opened read-only: a write-back has no business changing it,
and a stray statement in `--query` then fails instead of doing harm. A table
name is looked up in the catalog with a bound parameter and then quoted as an
identifier, so a name holding quotes, semicolons or dots is only ever a name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from jing_client.redact import first_line
from target_jing.early_warehouse import EarlyConnection
from target_jing.machine_faults import file_problem

FILE_READERS = {".csv": "read_csv", ".parquet": "read_parquet"}


class SourceError(Exception):
    """The input cannot be read; the message names the file, table or query."""


@dataclass(frozen=True)
class Source:
    """An open relation and the label the run log gives it (`duckdb:<table>`, `file:<path>`)."""

    relation: duckdb.DuckDBPyRelation
    label: str


@contextmanager
def open_source(
    *,
    duckdb_path: str | None = None,
    table: str | None = None,
    query: str | None = None,
    file: str | None = None,
    opening: EarlyConnection | None = None,
) -> Iterator[Source]:
    """Yield the relation to sync; the connection stays open until the block ends.

    Give `file`, or `duckdb_path` with `table` or `query` (the CLI checks the combination);
    `opening` is `duckdb_path` being opened already (`early_warehouse`).
    """
    if file is not None:
        with _connect(None) as con:
            yield Source(_read_file(con, Path(file)), f"file:{file}")
        return
    with _connect(Path(duckdb_path or ""), opening) as con:
        if table is not None:
            yield Source(con.sql("FROM " + _qualified_name(con, table)), f"duckdb:{table}")
        else:
            yield Source(_run_query(con, query or ""), f"duckdb:{query}")


@contextmanager
def _connect(
    path: Path | None, opening: EarlyConnection | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    if path is not None and not path.is_file():
        raise SourceError(f"--duckdb: no such DuckDB file: {path}")
    try:
        if opening is not None and opening.path == path:
            con = opening.take()
        else:
            con = duckdb.connect(str(path), read_only=True) if path else duckdb.connect()
    except duckdb.Error as exc:
        problem = file_problem(path, exc) if path else first_line(exc)
        raise SourceError(f"--duckdb: {problem}") from None
    try:
        yield con
    finally:
        con.close()


def _qualified_name(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """Find `table`, `schema.table` or `catalog.schema.table`; return it quoted.

    The tables and views are those `information_schema.tables` lists, read from the
    catalog functions it is made of: binding that view costs 10 ms of every run.
    They are sorted, so that an ambiguous name's message is the same at every run.
    """
    matches = con.execute(
        """
        SELECT DISTINCT database_name, schema_name, name FROM (
            SELECT database_name, schema_name, table_name AS name FROM duckdb_tables()
            UNION ALL
            SELECT database_name, schema_name, view_name FROM duckdb_views() WHERE NOT internal
        )
        WHERE ? IN (name,
                    schema_name || '.' || name,
                    database_name || '.' || schema_name || '.' || name)
        ORDER BY ALL
        """,
        [table],
    ).fetchall()
    return ".".join(quote_identifier(part) for part in the_one_table(table, matches, "warehouse"))


def the_one_table(table: str, matches: list[tuple[str, ...]], where: str) -> tuple[str, ...]:
    """The name parts of the one table or view `--table` names; a `SourceError` for none or two."""
    if not matches:
        raise SourceError(f"--table: no table or view named {table!r} in the {where}")
    if len(matches) > 1:
        names = ", ".join(".".join(match) for match in matches)
        raise SourceError(f"--table: {table!r} is ambiguous ({names}); name its schema")
    return matches[0]


def quote_identifier(name: str) -> str:
    """A name as a DuckDB identifier, quoted (a name with quotes or dots stays one name)."""
    return '"' + name.replace('"', '""') + '"'


def _run_query(con: duckdb.DuckDBPyConnection, query: str) -> duckdb.DuckDBPyRelation:
    try:
        relation = con.sql(query)
    except duckdb.Error as exc:
        raise SourceError(f"--query does not run: {exc}") from exc
    if relation is None:
        raise SourceError("--query must be a query that returns rows (SELECT ...)")
    return relation


def _read_file(con: duckdb.DuckDBPyConnection, path: Path) -> duckdb.DuckDBPyRelation:
    """CSV is read as text, so ids such as 000123 keep their zeros; the row checks type it."""
    reader = FILE_READERS.get(path.suffix.lower())
    if reader is None:
        raise SourceError(f"--file: {path} is neither .csv nor .parquet")
    if not path.is_file():
        raise SourceError(f"--file: no such file: {path}")
    if path.stat().st_size == 0:
        raise SourceError(f"--file: {path} is empty (0 bytes): not even a header row")
    options = {"all_varchar": True} if reader == "read_csv" else {}
    try:
        return getattr(con, reader)(str(path), **options)
    except duckdb.Error as exc:
        raise SourceError(f"--file: cannot read {path}: {exc}") from exc
