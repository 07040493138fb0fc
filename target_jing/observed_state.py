"""Read what JING held, as the warehouse last extracted it (the setting `observed_state`).

The shape is what tap-jing's `activity_users` stream loads (`raw.activity_users`
in the Meltano project): `target_entity_uuid`, `omni_user_uuid`, the two statuses,
the two times (UTC instants) and `updated_time`, JING's own time of the
registration's last change. That time is the observation's: newer than a
ledger confirmation, it means someone changed the registration since. The
warehouse is a DuckDB file, or a PostgreSQL database (attached to DuckDB, so the
query is the same).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pyarrow as pa

from jing_client import JingConfigError
from jing_client.redact import first_line
from target_jing.duckdb_postgres import attached, is_postgres_url
from target_jing.postgres_url import shown
from target_jing.read_back import OBSERVED_SCHEMA
from target_jing.settings import STATUS_FIELDS, TIME_FIELDS, TargetSettings
from target_jing.sources import quote_identifier

#: The columns the observed state must have.
COLUMNS = ("target_entity_uuid", "omni_user_uuid", *STATUS_FIELDS, *TIME_FIELDS, "updated_time")
_QUERY = re.compile(r"^\s*(select|with|from)\b", re.IGNORECASE)


def load(settings: TargetSettings, activities: list[str]) -> pa.Table:
    """The observed registrations of `activities`, as `Ledger.add_observed` takes them."""
    source, path = settings.observed_state, settings.observed_state_path
    if source is None or path is None:
        raise JingConfigError("setting 'observed_state' is not set")
    relation = (
        f"({source})"
        if _QUERY.match(source)
        else ".".join(quote_identifier(part) for part in source.split("."))
    )
    times = ", ".join(
        f"strftime(timezone($zone, CAST({name} AS TIMESTAMPTZ)), '%Y-%m-%d %H:%M:%S') AS {name}"
        for name in TIME_FIELDS
    )
    statuses = ", ".join(f"CAST({name} AS VARCHAR) AS {name}" for name in STATUS_FIELDS)
    sql = f"""
        SELECT CAST(target_entity_uuid AS VARCHAR) AS entity_uuid,
               CAST(omni_user_uuid AS VARCHAR) AS omni_user_uuid, {statuses}, {times},
               coalesce(CAST(updated_time AS TIMESTAMPTZ), TIMESTAMPTZ '1970-01-01 00:00:00+00')
                   AS observed_at
        FROM {relation} AS observed
        WHERE CAST(target_entity_uuid AS VARCHAR) IN (SELECT unnest($activities))
    """
    try:
        with _open(path) as con:
            con.execute("SET TimeZone = 'UTC'")
            _check_columns(con, relation, source)
            table = con.sql(
                sql, params={"zone": settings.api_timezone, "activities": activities}
            ).to_arrow_table()
    except duckdb.Error as exc:
        where = shown(path) if is_postgres_url(path) else path
        raise JingConfigError(
            f"setting 'observed_state': cannot read {source} in {where}: {first_line(exc)}"
        ) from None
    return table.select(OBSERVED_SCHEMA.names).cast(OBSERVED_SCHEMA)


def _open(path: str) -> duckdb.DuckDBPyConnection:
    """The warehouse, read-only: a DuckDB file, or a PostgreSQL database attached."""
    if not is_postgres_url(path):
        return duckdb.connect(str(Path(path)), read_only=True)
    return attached(path, "warehouse", read_only=True, setting="observed_state_path")


def _check_columns(con: duckdb.DuckDBPyConnection, relation: str, source: str) -> None:
    found = [column[0] for column in con.execute(f"SELECT * FROM {relation} LIMIT 0").description]
    missing = [name for name in COLUMNS if name not in found]
    if missing:
        raise JingConfigError(
            f"setting 'observed_state': {source} lacks {', '.join(missing)}; it has "
            f"{', '.join(found)} (the shape of tap-jing's activity_users stream is needed)"
        )
