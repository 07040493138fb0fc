"""What the sandbox should hold after a write-back, computed from the transform's output."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
from pg_server import PASSWORD, USER, PostgresServer

from jing_sandbox.process import SandboxProcess

#: The API's zone [jing-api.md 5]: target-jing sends times as local text in it.
API_ZONE = ZoneInfo("Asia/Shanghai")
UPDATE_PATH = "/v1/activity/update/userStatus/batch"

Statuses = dict[tuple[str, str], dict[str, str]]


def statuses(registrations: list[dict[str, Any]]) -> Statuses:
    """(activity, user) -> the status fields, from the sandbox's registration list."""
    fields = ("ems_approvestatus", "ems_signinstatus", "ems_signintimestamp")
    return {
        (r["target_entity_uuid"], r["omni_user_uuid"]): {f: r.get(f) or "" for f in fields}
        for r in registrations
    }


#: The decisions, as both engines' decision SQL writes them.
DECIDED = (
    "SELECT entity_uuid, omni_user_uuid, ems_approvestatus, ems_signinstatus, "
    "ems_signintimestamp FROM decide.registrant_status"
)


def expected_statuses(before: Statuses, warehouse: Path | str) -> Statuses:
    """The statuses before the write-back, overlaid with what the transform decided.

    `warehouse` is the DuckDB file, or the URL of the PostgreSQL database (the pg environment).
    """
    if str(warehouse).startswith("postgresql://"):
        import psycopg

        with psycopg.connect(str(warehouse)) as con:
            decided = con.execute(DECIDED).fetchall()
    else:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            decided = con.execute(DECIDED).fetchall()
    expected = {key: dict(value) for key, value in before.items()}
    for activity, user, approve, signin, signin_time in decided:
        row = expected[(activity, user)]
        if approve is not None:
            row["ems_approvestatus"] = approve
        if signin is not None:
            row["ems_signinstatus"] = signin
        if signin_time is not None:
            row["ems_signintimestamp"] = signin_time.astimezone(API_ZONE).strftime(
                "%Y-%m-%d %H:%M:%S"
            )
    return expected


def pg_environment(
    postgres: PostgresServer, database: str, sandbox: SandboxProcess
) -> dict[str, str]:
    """What a worker of the pg environment gets from its scheduler: URLs, secrets, the API."""
    where = f"{USER}@127.0.0.1:{postgres.port}/{database}"
    return {
        "JING_PG_URL": f"postgresql://{where}",
        "PGPASSWORD": PASSWORD,
        "MELTANO_DATABASE_URI": f"postgresql+psycopg://{where}",
        **{
            f"{prefix}_{name}": value
            for prefix in ("TAP_JING", "TARGET_JING")
            for name, value in (
                ("BASE_URL", sandbox.url),
                ("APP_ID", sandbox.app_id),
                ("APP_SECRET", sandbox.app_secret),
            )
        },
    }


def fresh_database(postgres: PostgresServer, name: str) -> str:
    """An empty database `name` in the tests' server (dropped first if a test left it)."""
    postgres.sql("postgres", f"DROP DATABASE IF EXISTS {name}")
    postgres.sql("postgres", f"CREATE DATABASE {name}")
    return name


def database_url(postgres: PostgresServer, database: str) -> str:
    """The URL of `database` in the tests' server, with the password (for the checks)."""
    return f"{postgres.url.rsplit('/', 1)[0]}/{database}"
