"""`target-jing sync --postgres URL`: status rows from a PostgreSQL table or query, streamed.

The driver is psycopg 3 (the `postgres` extra, its binary build: libpq comes with
it, so nothing is needed from the system), as for the PostgreSQL ledger
(`postgres_ledger`). The ADBC driver yields Arrow, but has no server-side cursor.

The rows come through a server-side cursor, `BATCH_ROWS` at a time, so a table of
millions is never held in memory, and the session is read-only, so a stray
statement in `--query` fails instead of doing harm. A table name is looked up in
the catalog with a bound parameter and then quoted as identifiers. The URL's
password is registered as a secret before connecting: neither a log line, an
error nor the ledger shows it, and the run's label is `postgres:<table or query>`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
import psycopg
from psycopg import sql
from psycopg.types.datetime import DateLoader, TimestampLoader, TimestamptzLoader

from jing_client.redact import first_line
from target_jing.input_columns import BATCH_ROWS
from target_jing.postgres_url import BadPostgresUrl, secret_libpq_url
from target_jing.sources import SourceError, the_one_table


@dataclass(frozen=True)
class RowBatches:
    """The columns of the rows to sync, their batches (object columns), and the run's label."""

    columns: list[str]
    batches: Iterator[pd.DataFrame]
    label: str


@contextmanager
def open_postgres(
    url: str, *, table: str | None = None, query: str | None = None
) -> Iterator[RowBatches]:
    """Yield the rows of `table` or `query`; the connection stays open until the block ends."""
    connection = connect_to_read(url, "--postgres")
    try:
        with connection.transaction():
            statement = _table_query(connection, table) if table else _text_query(query or "")
            with connection.cursor(name="jing_status_rows") as cursor:
                try:
                    cursor.execute(statement)
                except psycopg.Error as exc:
                    raise SourceError(f"--query does not run: {first_line(exc)}") from None
                columns = [column.name for column in cursor.description or ()]
                label = f"postgres:{table}" if table else f"postgres:{query}"
                yield RowBatches(columns, _batches(cursor, columns), label)
    finally:
        connection.close()


def connect_to_read(url: str, option: str) -> psycopg.Connection:
    """`connect`, in a read-only session whose times Python cannot hold come as their text."""
    connection = connect(url, option)
    connection.read_only = True
    for type_name, loader in _TIME_LOADERS.items():
        connection.adapters.register_loader(type_name, loader)
    return connection


def connect(url: str, option: str) -> psycopg.Connection:
    """Connect to `url` with its password registered as a secret first.

    A URL that does not parse or a server that refuses is a `SourceError` naming
    `option` (the flag or setting that gave the URL), with the server's message.
    """
    try:
        libpq = secret_libpq_url(url)
    except BadPostgresUrl as exc:
        raise SourceError(f"{option}: {exc}") from None
    try:
        return psycopg.connect(libpq, connect_timeout=30)
    except psycopg.Error as exc:
        raise SourceError(f"{option}: cannot connect: {first_line(exc)}") from None


def _table_query(connection: psycopg.Connection, table: str) -> sql.Composed:
    """`SELECT * FROM` the table or view named `table` or `schema.table`, quoted."""
    try:
        matches = connection.execute(
            """
            SELECT DISTINCT table_schema, table_name FROM information_schema.tables
            WHERE %s::text IN (table_name::text, table_schema || '.' || table_name)
              AND table_schema NOT IN ('pg_catalog', 'information_schema')
            """,
            [table],
        ).fetchall()
    except psycopg.Error as exc:
        raise SourceError(f"--table: cannot look {table!r} up: {first_line(exc)}") from None
    schema, name = the_one_table(table, matches, "database")
    return sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, name))


def _text_query(query: str) -> sql.SQL:
    if not query.strip():
        raise SourceError("--query is empty")
    return sql.SQL(query)  # type: ignore[arg-type]  # the user's own query, run read-only


class _TextWhenOutOfRange:
    """A time loader mixin: a value Python cannot hold ('infinity', a year past 9999) is
    kept as its text, so the row checks refuse that row alone, by name, instead of the
    whole read failing on it."""

    def load(self, data: bytes | bytearray | memoryview) -> object:
        try:
            return super().load(data)  # type: ignore[misc]
        except psycopg.DataError:
            return bytes(data).decode("utf-8", "replace")


class _Date(_TextWhenOutOfRange, DateLoader):
    pass


class _Timestamp(_TextWhenOutOfRange, TimestampLoader):
    pass


class _Timestamptz(_TextWhenOutOfRange, TimestamptzLoader):
    pass


_TIME_LOADERS = {"date": _Date, "timestamp": _Timestamp, "timestamptz": _Timestamptz}


def _batches(cursor: psycopg.Cursor, columns: list[str]) -> Iterator[pd.DataFrame]:
    """The rows, `BATCH_ROWS` at a time, as object columns: the row checks type each value."""
    while True:
        try:
            rows = cursor.fetchmany(BATCH_ROWS)
        except psycopg.Error as exc:
            raise SourceError(f"reading the rows: {first_line(exc)}") from None
        if not rows:
            return
        yield pd.DataFrame.from_records(rows, columns=columns).astype(object)
