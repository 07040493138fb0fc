"""Where the ledger lives, and the connection that reads and writes it there.

The ledger is a DuckDB file by default (`ledger_path`). With `ledger_url` it is a
schema of a PostgreSQL database (`ledger_schema`), so that it outlives a worker
whose disk goes when its task ends. The statements of `ledger.py` and `plan.py`
are one set, in the SQL both engines share: on a file they run in DuckDB, on
PostgreSQL in PostgreSQL itself, through psycopg (`postgres_ledger`), with the
ledger's schema first on the search path. Its tables are ordinary PostgreSQL
tables that the warehouse's users query.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb

from jing_client import JingConfigError
from target_jing.machine_faults import open_problem
from target_jing.postgres_url import needs_postgres_extra, shown


class LedgerConnection(Protocol):
    """What the ledger calls on its connection: DuckDB's, or `PostgresLedgerConnection`."""

    def execute(self, statement: str, params: Any = ...) -> Any: ...

    def register(self, name: str, data: Any) -> Any: ...

    def unregister(self, name: str) -> Any: ...

    def cursor(self) -> Any: ...

    def close(self) -> None: ...


class Rows(Protocol):
    """A query's result as both engines give it: column names, then batches of rows."""

    description: Any

    def fetchmany(self, size: int) -> Sequence[tuple[Any, ...]]: ...


#: Ledger files open in this process: a second run on one would take the first for a dead one.
_OPEN: set[Path] = set()
_OPEN_LOCK = threading.Lock()


@dataclass(frozen=True)
class LedgerHome:
    """A ledger's place: a DuckDB file `path`, or schema `schema` of the database at `url`."""

    path: Path | None = None
    url: str | None = None
    schema: str = "jing_sync"
    #: How long a run waits for the PostgreSQL locks of another (`ledger_locks`).
    lock_wait_seconds: float = 15.0

    @property
    def on_postgres(self) -> bool:
        return self.url is not None

    @property
    def setting(self) -> str:
        """The setting that names this place, for messages."""
        return "ledger_url" if self.on_postgres else "ledger_path"

    def __str__(self) -> str:
        """The place as a summary shows it: a URL without its password, and the schema."""
        if self.url is None:
            return str(self.path)
        return f"{shown(self.url)} (schema {self.schema})"


def open_database(home: LedgerHome, *, read_only: bool = False) -> LedgerConnection:
    """A connection whose default schema holds the ledger's tables: DuckDB's, or a
    `PostgresLedgerConnection` (psycopg's, in the shape of DuckDB's).

    A DuckDB file is taken for this run alone (`JingConfigError` when another run
    holds it); PostgreSQL leaves who may run at once to `ledger_locks`.
    """
    if home.url is not None:
        try:
            from target_jing.postgres_ledger import PostgresLedgerConnection
        except ImportError:
            raise JingConfigError(needs_postgres_extra("ledger_url")) from None
        return PostgresLedgerConnection(home.url, home.schema, read_only=read_only)
    assert home.path is not None
    return _open_file(home.path, read_only=read_only)


def stream(con: LedgerConnection, statement: str, params: Any = None) -> Rows:
    """Run a query whose result may be millions of rows, to be read a batch at a time.

    DuckDB streams any result; PostgreSQL does through a server-side cursor.
    """
    if isinstance(con, duckdb.DuckDBPyConnection):
        return con.execute(statement, params or [])
    return con.stream(statement, params)  # type: ignore[attr-defined]


def release(home: LedgerHome) -> None:
    """The run that opened `home` is done with it."""
    if home.path is not None and not home.on_postgres:
        with _OPEN_LOCK:
            _OPEN.discard(home.path.resolve())


def _open_file(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open the ledger file; say plainly when another run holds it.

    Another process is kept out by DuckDB's file lock; another thread of this
    process (DuckDB shares one database per process) by `_OPEN`, checked and taken
    under a lock so that two threads cannot both pass.
    """
    if read_only:
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise open_problem(path, exc) from None
    where = path.resolve()
    with _OPEN_LOCK:
        if where in _OPEN:
            raise JingConfigError(
                f"setting 'ledger_path': {path} is already used by a run in this process; "
                "one ledger serves one run at a time"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(str(path))
        except (OSError, duckdb.Error) as exc:
            raise open_problem(path, exc) from None
        _OPEN.add(where)
    # The engine streams; DuckDB's own buffers are what grows with the data.
    con.execute("SET memory_limit = '128MB'")
    # One thread: most statements of a run are small, and DuckDB's workers cost more
    # to wake than they save (interleaved runs on 2 cores: at 100,000 rows 7 % less CPU,
    # wall no slower; at 1,000,000 rows 10 % less CPU and the same wall, though the
    # plan's sort alone takes 1 s longer).
    con.execute("SET threads = 1")
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET TimeZone = 'UTC'")
    return con
