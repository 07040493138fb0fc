"""target-duckdb 0.8.0, minus the lost first row of every batch.

target-duckdb writes each batch to a header-less CSV file and loads it with
`COPY t FROM 'file' WITH (new_line '\\r\\n')`. Recent DuckDB (1.x and 2.x) then
guesses whether the first line is a header, and for batches like ours (text and
zoned times) it guesses yes: one record of every batch is dropped without a word.
Upstream fixed it by adding `HEADER 0` (jwills/target-duckdb pull request 58), in
no release yet. Until one ships, this entry point runs the released target with
that one option added to that one statement, and changes nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import target_duckdb

COPY_OPTIONS = "WITH (new_line '\\r\\n')"
HEADERLESS_COPY_OPTIONS = "WITH (new_line '\\r\\n', header false)"


class HeaderlessCopyConnection:
    """A DuckDB connection whose target-duckdb COPY statements read no header line."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def execute(self, query: str, *args: Any, **kwargs: Any) -> Any:
        if query.startswith("COPY "):
            query = query.replace(COPY_OPTIONS, HEADERLESS_COPY_OPTIONS)
        return self._connection.execute(query, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def make_parent_folder(config: dict[str, Any]) -> None:
    """Create the folder of a local `filepath` (DuckDB creates the file, not its folder).

    So that `output/warehouse.duckdb` works on a fresh clone; `md:` and `:memory:` are left alone.
    """
    filepath = str(config.get("filepath") or "")
    if filepath and ":" not in filepath.split("/", 1)[0]:
        Path(filepath).parent.mkdir(parents=True, exist_ok=True)


def main() -> None:
    """`target-duckdb`, with every connection it opens wrapped."""
    connect = target_duckdb.duckdb_connect

    def headerless_connect(config: dict[str, Any]) -> HeaderlessCopyConnection:
        make_parent_folder(config)
        return HeaderlessCopyConnection(connect(config))

    target_duckdb.duckdb_connect = headerless_connect
    target_duckdb.main()
