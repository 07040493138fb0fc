"""The `pg` environment end to end: warehouse, decisions, ledger and Meltano's state in PostgreSQL.

`meltano --environment pg run jing-extract` (tap-jing into MeltanoLabs' target-postgres),
then `run jing-writeback` (jing-decide on PostgreSQL, target-jing sync --postgres with the
ledger in PostgreSQL), against the sandbox and a real PostgreSQL server. The password is
only ever in PGPASSWORD, as the README tells production to do.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import psycopg
import pytest
from pg_server import PASSWORD, PostgresServer
from pipeline_checks import (
    UPDATE_PATH,
    database_url,
    expected_statuses,
    fresh_database,
    pg_environment,
    statuses,
)

from jing_sandbox.process import SandboxProcess
from orchestrate.meltano_commands import meltano


@pytest.mark.slow
def test_the_pg_environment_extracts_decides_and_writes_back_with_nothing_on_local_disk(
    project_copy: Path, pipeline_sandbox: SandboxProcess, postgres: PostgresServer, tmp_path: Path
) -> None:
    database = fresh_database(postgres, "pg_environment")
    env = pg_environment(postgres, database, pipeline_sandbox)
    run = partial(
        meltano, log=tmp_path / "meltano.log", project_dir=project_copy, environment="pg", env=env
    )
    before = statuses(pipeline_sandbox.registrations())

    run("run", "jing-extract")
    url = database_url(postgres, database)
    with psycopg.connect(url) as con:
        loaded = con.execute("SELECT count(*) FROM raw.activity_users").fetchone()
        states = con.execute("SELECT state_id FROM state").fetchall()
    assert loaded == (len(before),)
    assert [state_id for (state_id,) in states] == ["pg:tap-jing-to-target-warehouse"]

    run("run", "jing-writeback")
    after = statuses(pipeline_sandbox.registrations())
    assert after == expected_statuses(before, url)
    assert after != before
    with psycopg.connect(url) as con:
        runs = con.execute("SELECT status, applied FROM jing_sync.jing_sync_runs").fetchall()
    assert len(runs) == 1 and runs[0][0] == "succeeded" and runs[0][1] > 0

    # The daily job again: the ledger in PostgreSQL knows it all, nothing is sent.
    calls = pipeline_sandbox.stats()["calls"].get(UPDATE_PATH, 0)
    run("run", "jing-extract")  # incremental, from the state in PostgreSQL
    run("run", "jing-writeback")
    assert pipeline_sandbox.stats()["calls"].get(UPDATE_PATH, 0) == calls

    # Nothing that must last was written under the project: no warehouse, ledger or state.
    lasting = [
        Path(folder, name)
        for folder, folders, files in os.walk(project_copy)  # not into the linked venvs
        for name in files + folders
        if Path(name).suffix in {".duckdb", ".db", ".wal", ".sqlite"} or name == "output"
    ]
    assert lasting == []
    assert PASSWORD not in (tmp_path / "meltano.log").read_text()
