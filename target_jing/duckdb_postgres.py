"""A PostgreSQL database attached to DuckDB: the ledger's home, and the observed state's.

DuckDB's postgres extension comes from PyPI (`duckdb-extension-postgres-scanner`, in
the `postgres` extra), so nothing is downloaded at run time; where it is not
installed, an extension installed with DuckDB's own `INSTALL postgres` serves. The
URL's password is registered as a secret before anything can print it: DuckDB's
own connection error quotes the whole URL.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb

from jing_client import JingConfigError
from jing_client.redact import first_line
from target_jing.postgres_url import BadPostgresUrl, secret_libpq_url

_EXTENSION_PACKAGE = "duckdb_extension_postgres_scanner"


def needs_postgres_extra(setting: str) -> str:
    """What to install for `setting` to work."""
    return (
        f"setting '{setting}' needs the postgres extra: pip install "
        "'jing-connectors[target,postgres]' (it pins the DuckDB release that its packaged "
        "postgres extension is built for)"
    )


def attached(url: str, catalog: str, *, read_only: bool, setting: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the database at `url` attached as `catalog` and made the
    default; `JingConfigError` names `setting`, and a failed attach leaves nothing open."""
    con = duckdb.connect()
    try:
        _attach(con, url, catalog, read_only=read_only, setting=setting)
        con.execute(f"USE {catalog}")
    except BaseException:
        con.close()
        raise
    return con


def _attach(
    con: duckdb.DuckDBPyConnection, url: str, catalog: str, *, read_only: bool, setting: str
) -> None:
    try:
        libpq = secret_libpq_url(url)
    except ImportError:
        raise JingConfigError(needs_postgres_extra(setting)) from None
    except BadPostgresUrl as exc:
        raise JingConfigError(f"setting '{setting}': {exc}") from None
    _load_extension(con, setting)
    options = "TYPE postgres, READ_ONLY" if read_only else "TYPE postgres"
    try:
        con.execute(f"ATTACH {literal(libpq)} AS {catalog} ({options})")
    except duckdb.Error as exc:
        raise JingConfigError(f"setting '{setting}': cannot connect: {first_line(exc)}") from None


def _load_extension(con: duckdb.DuckDBPyConnection, setting: str) -> None:
    spec = importlib.util.find_spec(_EXTENSION_PACKAGE)
    if spec is not None and spec.origin is not None:
        folder = Path(spec.origin).parent / "extensions" / f"v{duckdb.__version__}"
        packaged = folder / "postgres_scanner.duckdb_extension"
        if packaged.is_file():
            con.execute(f"LOAD {literal(str(packaged))}")
            return
    try:
        con.execute("LOAD postgres")
    except duckdb.Error:
        raise JingConfigError(
            f"{needs_postgres_extra(setting)} (none is installed for DuckDB {duckdb.__version__})"
        ) from None


def is_postgres_url(text: str) -> bool:
    """Whether a setting's value names a PostgreSQL database rather than a DuckDB file."""
    return text.startswith(("postgresql:", "postgres:", "postgresql+", "postgres+"))


def literal(text: str) -> str:
    """`text` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
