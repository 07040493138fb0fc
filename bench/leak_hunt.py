"""The leak hunt: search every file a run produced for the app secret and every issued token.

Text files are searched as bytes. A DuckDB file (ledger, warehouse) is searched
as bytes and also table by table through DuckDB itself, because DuckDB
compresses strings on disk and a secret stored in a column need not appear in
the raw bytes. A hit names the file and the place, never the secret itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

#: Shorter values could occur by chance; every real secret is far longer.
MIN_SECRET_LENGTH = 8
DUCKDB_MAGIC = b"DUCK"


@dataclass(frozen=True)
class Hit:
    """A secret found in `path` (`place`: the raw bytes or a table); `hint` is its first 4 chars."""

    path: Path
    place: str
    hint: str

    def __str__(self) -> str:
        return f"{self.path} ({self.place}): a secret starting {self.hint!r}"


@dataclass(frozen=True)
class HuntReport:
    files: int
    secrets: int
    hits: list[Hit]

    def summary(self) -> str:
        verdict = "0 hits" if not self.hits else f"{len(self.hits)} HITS"
        return (
            f"Searched {self.files} files (logs at DEBUG level, stdout and stderr, Singer "
            f"state, ledgers, warehouses, sandbox data) for {self.secrets} secrets (the app "
            f"secret and every access and refresh token the sandboxes issued): {verdict}."
        )


def hunt(roots: Iterable[Path], secrets: Iterable[str]) -> HuntReport:
    wanted = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
    if not wanted:
        return HuntReport(0, 0, [])
    pattern = re.compile("|".join(re.escape(s) for s in wanted))
    raw = re.compile(pattern.pattern.encode())
    files = 0
    hits: list[Hit] = []
    for path in _files(roots):
        files += 1
        data = path.read_bytes()
        hits += [Hit(path, "bytes", m.group().decode()[:4]) for m in raw.finditer(data)]
        if data[8:12] == DUCKDB_MAGIC:
            for table, text in _tables(path):
                hits += [Hit(path, f"table {table}", m.group()[:4]) for m in pattern.finditer(text)]
    return HuntReport(files, len(wanted), hits)


def _files(roots: Iterable[Path]) -> Iterator[Path]:
    for root in roots:
        if root.is_file():
            yield root
        elif root.is_dir():
            yield from sorted(p for p in root.rglob("*") if p.is_file())


def _tables(path: Path) -> Iterator[tuple[str, str]]:
    """Every table of a DuckDB file as one text (each row's values); unreadable files: none."""
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return
    with con:
        names = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT temporary"
        ).fetchall()
        for schema, table in names:
            quoted = ".".join('"' + part.replace('"', '""') + '"' for part in (schema, table))
            rows = con.execute(f"SELECT * FROM {quoted}").fetchall()
            yield f"{schema}.{table}", "\n".join(str(row) for row in rows)
