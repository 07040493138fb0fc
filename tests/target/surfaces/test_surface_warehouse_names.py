"""`--table` finds the tables and views that `information_schema.tables` lists, by any name.

`sources._qualified_name` reads DuckDB's catalog functions rather than that view
(binding it costs 10 ms of every run); each name here must find what the view
finds: one table, none, or two (ambiguous).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from target_jing.sources import SourceError, _qualified_name, quote_identifier, the_one_table

NAMES = [
    "wanted",
    "main.wanted",
    "db.main.wanted",
    "shadow",  # in two schemas: ambiguous
    "extra.shadow",
    "wanted_view",
    "extra.wanted_view",
    'odd "name".x',
    'extra.odd "name".x',
    "missing",
    "extra.wanted",
    "other.main.wanted",
    "duckdb_tables",  # a catalog function, not a table
    "tables",  # information_schema's own view is not listed by it
    "information_schema.tables",
]

#: The names that find no table, or two.
REFUSED = {
    "shadow",
    "missing",
    "extra.wanted",
    "other.main.wanted",
    "duckdb_tables",
    "tables",
    "information_schema.tables",
}


def _by_the_view(con: duckdb.DuckDBPyConnection, table: str) -> str:
    matches = con.execute(
        """
        SELECT DISTINCT table_catalog, table_schema, table_name
        FROM information_schema.tables
        WHERE ? IN (table_name,
                    table_schema || '.' || table_name,
                    table_catalog || '.' || table_schema || '.' || table_name)
        ORDER BY ALL
        """,
        [table],
    ).fetchall()
    return ".".join(quote_identifier(part) for part in the_one_table(table, matches, "warehouse"))


def _found(find: object, con: duckdb.DuckDBPyConnection, table: str) -> str:
    try:
        return find(con, table)  # type: ignore[operator]
    except SourceError as error:
        return f"refused: {error}"


@pytest.mark.parametrize("table", NAMES)
def test_a_name_finds_what_information_schema_finds(tmp_path: Path, table: str) -> None:
    path = tmp_path / "db.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA extra")
        con.execute("CREATE TABLE wanted (a INTEGER)")
        con.execute("CREATE TABLE shadow (a INTEGER)")
        con.execute("CREATE TABLE extra.shadow (a INTEGER)")
        con.execute("CREATE VIEW extra.wanted_view AS SELECT * FROM wanted")
        con.execute('CREATE TABLE extra."odd ""name"".x" (a INTEGER)')
    with duckdb.connect(str(path), read_only=True) as con:
        expected = _found(_by_the_view, con, table)
        assert _found(_qualified_name, con, table) == expected
    assert expected.startswith("refused") == (table in REFUSED)
