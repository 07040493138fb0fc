"""Read what JING held, as the warehouse last extracted it (the setting `observed_state`).

The shape is what tap-jing's `activity_users` stream loads (`raw.activity_users`
in the Meltano project): `target_entity_uuid`, `omni_user_uuid`, the two statuses,
the two times (UTC instants) and `updated_time`, JING's own time of the
registration's last change. That time is the observation's: newer than a
ledger confirmation, it means someone changed the registration since. The
warehouse is a DuckDB file, or a PostgreSQL database: there its rows of the
run's activities are read through psycopg (the relation or query is PostgreSQL's)
and then put in the ledger's form by the same DuckDB query, in memory.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pyarrow as pa

from jing_client import JingConfigError
from jing_client.redact import first_line
from target_jing.machine_faults import file_problem
from target_jing.postgres_url import is_postgres_url, needs_postgres_extra, shown
from target_jing.read_back import OBSERVED_SCHEMA
from target_jing.settings import STATUS_FIELDS, TIME_FIELDS, TargetSettings
from target_jing.sources import SourceError, quote_identifier

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
    try:
        if is_postgres_url(path):
            with duckdb.connect() as con:
                con.register("observed_rows", _postgres_rows(path, relation, source, activities))
                table = _as_observed(con, "observed_rows", settings, activities)
        else:
            with _open_file(Path(path)) as con:
                _require(_columns(con, relation), source)
                table = _as_observed(con, relation, settings, activities)
    except duckdb.Error as exc:
        where = shown(path) if is_postgres_url(path) else path
        raise JingConfigError(
            f"setting 'observed_state': cannot read {source} in {where}: {first_line(exc)}"
        ) from None
    return table.select(OBSERVED_SCHEMA.names).cast(OBSERVED_SCHEMA)


def _open_file(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise JingConfigError(f"setting 'observed_state_path': {file_problem(path, exc)}") from None


def _as_observed(
    con: duckdb.DuckDBPyConnection, relation: str, settings: TargetSettings, activities: list[str]
) -> pa.Table:
    """The rows of `relation` for `activities`: API strings, and the observation's time."""
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
    con.execute("SET TimeZone = 'UTC'")
    return con.sql(
        sql, params={"zone": settings.api_timezone, "activities": activities}
    ).to_arrow_table()


def _postgres_rows(url: str, relation: str, source: str, activities: list[str]) -> pa.Table:
    """The rows of `relation` in the PostgreSQL warehouse for `activities`, as they are."""
    try:
        import psycopg

        from target_jing.postgres_source import connect_to_read
    except ImportError:
        raise JingConfigError(needs_postgres_extra("observed_state_path")) from None
    try:
        con = connect_to_read(url, "setting 'observed_state_path'")
    except SourceError as exc:
        raise JingConfigError(str(exc)) from None
    with con:
        try:
            cursor = con.execute(
                f"SELECT * FROM {relation} AS observed "
                "WHERE CAST(target_entity_uuid AS VARCHAR) = ANY(%s)",
                [activities],
            )
            names = [column.name for column in cursor.description or ()]
            _require(names, source)
            rows = cursor.fetchall()
        except psycopg.Error as exc:
            raise JingConfigError(
                f"setting 'observed_state': cannot read {source} in {shown(url)}: {first_line(exc)}"
            ) from None
    return pa.table({name: _column([row[i] for row in rows]) for i, name in enumerate(names)})


def _column(values: list[object]) -> pa.Array:
    """A column as Arrow infers it; as text when Arrow has no type for its values (a UUID)."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if value is None else str(value) for value in values], pa.string())


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [column[0] for column in con.execute(f"SELECT * FROM {relation} LIMIT 0").description]


def _require(found: list[str], source: str) -> None:
    missing = [name for name in COLUMNS if name not in found]
    if missing:
        raise JingConfigError(
            f"setting 'observed_state': {source} lacks {', '.join(missing)}; it has "
            f"{', '.join(found)} (the shape of tap-jing's activity_users stream is needed)"
        )
