"""Open the warehouse's DuckDB file on a thread while `sync` imports the engine.

DuckDB lets go of the interpreter while it opens a database, and the first
database of a process costs about 35 ms (the catalog of its functions, the
extensions built in). The engine's imports after DuckDB's (the client, the
settings, the ledger) take longer than that, and hold the interpreter, so a
`sync --duckdb` opens its file during them, on the second core. What the opening
raises is raised where the file is used (`sources.open_source`), as if it had
been opened there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb


class EarlyConnection:
    """A read-only connection to one DuckDB file, being opened on a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._error: Exception | None = None
        # A daemon: a run stopped by a signal does not wait for a file to open.
        self._thread = threading.Thread(target=self._open, name="warehouse-open", daemon=True)
        self._thread.start()

    def _open(self) -> None:
        try:
            self._connection = duckdb.connect(str(self.path), read_only=True)
        except Exception as exc:  # raised again by `take`, on the run's thread
            self._error = exc

    def take(self) -> duckdb.DuckDBPyConnection:
        """The connection, once it is open (the caller closes it); what opening raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        connection, self._connection = self._connection, None  # the caller's from now on
        assert connection is not None
        return connection

    def close(self) -> None:
        """Close the connection if nobody took it (a run that stopped before its source)."""
        self._thread.join()
        if self._connection is not None:
            self._connection.close()


@contextmanager
def early_warehouse(path: str | None) -> Iterator[EarlyConnection | None]:
    """Start opening `path` when it names a file (else None: the source says what is wrong)."""
    if path is None or not Path(path).is_file():
        yield None
        return
    early = EarlyConnection(Path(path))
    try:
        yield early
    finally:
        early.close()
