"""The ledger's connection on PostgreSQL: psycopg, speaking the few words the ledger uses.

The ledger's statements are one set, written in the SQL that DuckDB and
PostgreSQL share, with DuckDB's parameter style (`$name`, `?`). On a DuckDB file
they run on a DuckDB connection; here they run on PostgreSQL itself, through
psycopg. So no DuckDB build is involved: the DuckDB that reads users' files is
whichever they installed (DuckDB's postgres extension would pin one release).

`PostgresLedgerConnection` offers what `ledger.py`, `plan.py` and the ledger
commands call on a DuckDB connection: `execute`, `register` (an Arrow table
becomes a temporary table, loaded with COPY), `cursor` (a second session, for
reading while the first writes), `stream` (a server-side cursor, for results of
millions of rows) and `close`. Parameters are interpolated by psycopg on the
client (`ClientCursor`), as DuckDB binds them: a NULL or a literal string needs
no declared type. The session runs in autocommit, so that the ledger's own
BEGIN and COMMIT are what make its transactions.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from functools import lru_cache
from types import TracebackType
from typing import TYPE_CHECKING, Any

import psycopg
import pyarrow as pa
from psycopg import sql

from jing_client import JingConfigError
from jing_client.redact import first_line
from target_jing.postgres_source import connect
from target_jing.sources import SourceError

if TYPE_CHECKING:
    import pandas as pd

#: A comment, a quoted literal or identifier (left as they are), a `$name`, a `?` or a `%`.
_TOKEN = re.compile(r"--[^\n]*|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\$([A-Za-z_][A-Za-z0-9_]*)|\?|%")
#: Names of server-side cursors: one per stream, never reused within a session.
_CURSOR_NAMES = itertools.count()


@lru_cache(maxsize=512)
def pyformat(statement: str) -> str:
    """`statement` with DuckDB's parameters (`$name`, `?`) in psycopg's (`%(name)s`, `%s`).

    A `%` is doubled, inside literals too, since psycopg reads every `%` of a
    statement that has parameters; a `?` or `$` inside a literal is left alone.
    """

    def swap(match: re.Match[str]) -> str:
        text = match.group(0)
        if text.startswith(("'", '"', "--")):
            return text.replace("%", "%%")
        if match.group(1) is not None:
            return f"%({match.group(1)})s"
        return "%s" if text == "?" else "%%"

    return _TOKEN.sub(swap, statement)


def _column_type(arrow_type: pa.DataType) -> str:
    """PostgreSQL's type for a column of a registered Arrow table."""
    if pa.types.is_integer(arrow_type):
        return "BIGINT"
    if pa.types.is_floating(arrow_type):
        return "DOUBLE PRECISION"
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    return "VARCHAR"  # strings, and columns of nulls only


class PostgresLedgerConnection:
    """One psycopg session on the ledger's schema (see the module's docstring)."""

    def __init__(self, url: str, schema: str, *, read_only: bool) -> None:
        self._url, self._schema, self._read_only = url, schema, read_only
        try:
            self._con = connect(url, "setting 'ledger_url'")
        except SourceError as exc:
            raise JingConfigError(str(exc)) from None
        self._con.autocommit = True
        self._con.cursor_factory = psycopg.ClientCursor
        try:
            self._con.execute("SET TimeZone = 'UTC'")
            if read_only:
                self._con.execute("SET default_transaction_read_only = on")
            else:
                self._con.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(self._ident))
            self._con.execute(sql.SQL("SET search_path TO {}").format(self._ident))
        except psycopg.Error as exc:
            self._con.close()
            raise JingConfigError(
                f"setting 'ledger_url': cannot open the ledger in PostgreSQL (schema "
                f"{schema}): {first_line(exc)}"
            ) from None

    @property
    def _ident(self) -> sql.Identifier:
        return sql.Identifier(self._schema)

    def execute(self, statement: str, params: Any = None) -> psycopg.ClientCursor[Any]:
        """Run one statement; the cursor holds its whole result (see `stream` for big ones)."""
        if not params:
            return self._con.execute(statement)  # no parameters: psycopg reads no `%`
        return self._con.execute(pyformat(statement), params)

    def stream(self, statement: str, params: Any = None) -> ServerRows:
        """Run a query whose result may be millions of rows; read it with `fetchmany`."""
        return ServerRows(self, statement, params)

    def register(self, name: str, data: pa.Table | pd.DataFrame) -> None:
        """Make `data` the temporary table `name` of this session (COPY, not row inserts)."""
        table = (
            data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        )
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(field.name), sql.SQL(_column_type(field.type)))
            for field in table.schema
        )
        self.unregister(name)
        create = sql.SQL("CREATE TEMP TABLE {} ({})").format(sql.Identifier(name), columns)
        self._con.execute(create)
        copy = sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(name))
        with self._con.cursor() as cursor, cursor.copy(copy) as rows:
            for batch in table.to_batches(max_chunksize=10_000):
                for row in zip(*(column.to_pylist() for column in batch.columns), strict=True):
                    rows.write_row(row)

    def unregister(self, name: str) -> None:
        self._con.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(sql.Identifier(name)))

    def cursor(self) -> PostgresLedgerConnection:
        """A session of its own: reading in it does not end, or wait for, the first one's work."""
        return PostgresLedgerConnection(self._url, self._schema, read_only=self._read_only)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> PostgresLedgerConnection:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _raw(self, statement: str | sql.Composable, params: Any = None) -> Any:
        return self._con.execute(statement, params)


class ServerRows:
    """A query's result kept on the server (a cursor WITH HOLD), fetched a batch at a time."""

    def __init__(self, owner: PostgresLedgerConnection, statement: str, params: Any) -> None:
        self._owner = owner
        self._name = sql.Identifier(f"jing_rows_{next(_CURSOR_NAMES)}")
        declare = sql.SQL("DECLARE {} NO SCROLL CURSOR WITH HOLD FOR ").format(self._name)
        text = pyformat(statement) if params else statement
        owner._raw(declare + sql.SQL(text), params or None)
        self.description: Sequence[Any] = ()
        self._done = False
        # A first batch now, so that `description` names the columns before any fetch.
        self._ahead: list[tuple[Any, ...]] = self._fetch(1_000)

    def _fetch(self, count: int) -> list[tuple[Any, ...]]:
        if self._done:
            return []
        cursor = self._owner._raw(sql.SQL(f"FETCH FORWARD {int(count)} FROM ") + self._name)
        self.description = cursor.description or self.description
        rows = cursor.fetchall()
        if len(rows) < count:
            self._done = True
            self._owner._raw(sql.SQL("CLOSE {}").format(self._name))
        return rows

    def fetchmany(self, count: int) -> list[tuple[Any, ...]]:
        if self._ahead:
            rows, self._ahead = self._ahead, []
            return rows
        return self._fetch(count)
