"""Where the ledger lives, and the DuckDB connection that reads and writes it there.

The ledger is a DuckDB file by default (`ledger_path`). With `ledger_url` it is a
schema of a PostgreSQL database (`ledger_schema`), so that it outlives a worker
whose disk goes when its task ends. Either way the ledger's SQL runs in DuckDB:
for PostgreSQL, an in-memory DuckDB attaches the database with DuckDB's postgres
extension and makes the ledger's schema the default one, so every statement of
`ledger.py` and `plan.py` runs unchanged on both engines, and its tables are
ordinary PostgreSQL tables that the warehouse's users query (the attach itself:
`duckdb_postgres`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb

from jing_client import JingConfigError
from jing_client.redact import first_line
from target_jing.duckdb_postgres import attached
from target_jing.machine_faults import open_problem
from target_jing.postgres_url import shown
from target_jing.sources import quote_identifier

#: The catalog name the PostgreSQL database is attached under.
CATALOG = "jing_ledger"

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


def open_database(home: LedgerHome, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection whose default schema holds the ledger's tables.

    A DuckDB file is taken for this run alone (`JingConfigError` when another run
    holds it); PostgreSQL leaves who may run at once to `ledger_locks`.
    """
    if home.url is not None:
        return _attach_postgres(home, read_only=read_only)
    assert home.path is not None
    return _open_file(home.path, read_only=read_only)


def release(home: LedgerHome) -> None:
    """The run that opened `home` is done with it."""
    if home.path is not None and not home.on_postgres:
        with _OPEN_LOCK:
            _OPEN.discard(home.path.resolve())


def use_ledger_schema(con: duckdb.DuckDBPyConnection, home: LedgerHome) -> None:
    """Make the ledger's schema the default of `con` (a cursor starts in DuckDB's own)."""
    if home.on_postgres:
        con.execute(f"USE {CATALOG}.{quote_identifier(home.schema)}")


def _open_file(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open the ledger file; say plainly when another run holds it.

    Another process is kept out by DuckDB's file lock; another thread of this
    process (DuckDB shares one database per process) by `_OPEN`, checked and taken
    under a lock so that two threads cannot both pass.
    """
    if read_only:
        return duckdb.connect(str(path), read_only=True)
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
    return con


def _attach_postgres(home: LedgerHome, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    assert home.url is not None
    con = attached(home.url, CATALOG, read_only=read_only, setting="ledger_url")
    try:
        if not read_only:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {CATALOG}.{quote_identifier(home.schema)}")
        use_ledger_schema(con, home)
    except duckdb.Error as exc:
        con.close()
        raise JingConfigError(
            f"setting 'ledger_url': cannot open the ledger in PostgreSQL (schema "
            f"{home.schema}): {first_line(exc)}"
        ) from None
    return con
