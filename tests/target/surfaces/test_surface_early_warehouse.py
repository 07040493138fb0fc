"""The warehouse opened on a thread while `sync` imports (`early_warehouse`), on real files.

Whatever the opening finds (a file that is no DuckDB database, one another process
holds) is said as the source would say it opened on the run's thread; a connection
nobody took is closed when the block ends.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from target_jing.early_warehouse import early_warehouse
from target_jing.sources import SourceError, open_source


def _warehouse(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE wanted AS SELECT 'a' AS activity_id FROM range(3)")
    return path


def _message(path: Path, opened_early: bool) -> str:
    with (
        early_warehouse(str(path) if opened_early else None) as opening,
        pytest.raises(SourceError) as caught,
        open_source(duckdb_path=str(path), table="wanted", opening=opening),
    ):
        pass
    return str(caught.value)


def test_the_source_reads_the_connection_opened_early(tmp_path: Path) -> None:
    path = _warehouse(tmp_path / "warehouse.duckdb")
    with early_warehouse(str(path)) as opening:
        assert opening is not None
        with open_source(duckdb_path=str(path), table="wanted", opening=opening) as source:
            assert source.relation.aggregate("count(*)").fetchall() == [(3,)]
    duckdb.connect(str(path)).close()  # read-write: nothing holds the file now


def test_a_file_that_is_no_database_is_said_as_without_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(b"not a database, only text " * 100)
    early, late = _message(path, opened_early=True), _message(path, opened_early=False)
    assert early == late and early.startswith("--duckdb: "), early


def test_a_connection_nobody_took_is_closed_as_the_block_ends(tmp_path: Path) -> None:
    """A run stopped before its source (a bad config) leaves the file free."""
    path = _warehouse(tmp_path / "warehouse.duckdb")
    with early_warehouse(str(path)) as opening:
        assert opening is not None
    duckdb.connect(str(path)).close()


def test_a_missing_file_is_left_to_the_source(tmp_path: Path) -> None:
    path = tmp_path / "absent.duckdb"
    with early_warehouse(str(path)) as opening:
        assert opening is None
    assert _message(path, opened_early=True) == f"--duckdb: no such DuckDB file: {path}"
