"""The Airflow DAG, in a real Airflow 3 of its own venv: it parses quietly, and it runs.

Airflow is installed by `orchestrate/airflow/install.sh` into a cached venv outside
the clone (the first run takes about half a minute), never into `.venv`.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
import yaml
from pg_server import PostgresServer
from pipeline_checks import (
    database_url,
    expected_statuses,
    fresh_database,
    pg_environment,
    statuses,
)

from jing_sandbox.process import SandboxProcess
from orchestrate.meltano_commands import PROJECT_DIR

DAGS_FOLDER = PROJECT_DIR / "orchestrate" / "airflow" / "dags"
INSTALL_SCRIPT = PROJECT_DIR / "orchestrate" / "airflow" / "install.sh"

# Loads the dags folder as the scheduler does, with subprocesses and sockets forbidden.
# Airflow's own imports run first: croniter asks `file` about the platform when imported.
PARSE_CHECK = """
import json, socket, subprocess, sys
import airflow.sdk.definitions.timetables.interval
from airflow.dag_processing.dagbag import DagBag

calls = []
def forbidden(*args, **kwargs):
    calls.append(repr(args)[:200])
    raise RuntimeError("called at parse time")
subprocess.Popen = forbidden
socket.socket.connect = forbidden
socket.create_connection = forbidden

bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags.get("jing_pipeline")
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "calls": calls,
    "dags": sorted(bag.dags),
    "max_active_runs": dag and dag.max_active_runs,
    "schedule": dag and getattr(dag.timetable, "expression", None),
    "tasks": dag and {
        t.task_id: [sorted(t.downstream_task_ids), t.retries, t.pool] for t in dag.tasks
    },
}))
"""


@pytest.fixture(scope="session")
def airflow_bin() -> Path:
    """The `bin/` folder of the cached Airflow venv (installed on first use)."""
    done = subprocess.run(
        ["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return Path(done.stdout.strip().splitlines()[-1]) / "bin"


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    """A throwaway Airflow: its home in a tmp dir, a SQLite database, no example DAGs."""
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        **extra,
    }


def run_in_airflow(airflow_bin: Path, tmp_path: Path, script: str) -> Any:
    """Run `script` with the DAGs folder as its argument in Airflow's venv; its last JSON line."""
    done = subprocess.run(
        [str(airflow_bin / "python"), "-c", script, str(DAGS_FOLDER)],
        env=airflow_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_dag_parses_without_subprocess_or_network(airflow_bin: Path, tmp_path: Path) -> None:
    parsed = run_in_airflow(airflow_bin, tmp_path, PARSE_CHECK)
    assert parsed["errors"] == {}
    assert parsed["calls"] == []
    assert parsed["dags"] == ["jing_pipeline"]
    assert parsed["max_active_runs"] == 1
    # Every task that calls the API is in the pool jing_api; the write-back is mapped.
    assert parsed["tasks"] == {
        "extract": [["decide"], 2, "jing_api"],
        "decide": [["write_back"], 2, "default_pool"],
        "shards": [["write_back"], 2, "default_pool"],
        "write_back": [["verify"], 2, "jing_api"],
        "verify": [[], 0, "default_pool"],
    }
    # The DAG starts when meltano.yml schedules the extract; the rest follows it.
    meltano_yml = yaml.safe_load((PROJECT_DIR / "meltano.yml").read_text())
    schedules = {s["name"]: s["interval"] for s in meltano_yml["schedules"]}
    assert parsed["schedule"] == schedules["jing-extract-daily"]


# Calls the DAG's verify task on summaries as target-jing prints them, and its helpers.
VERIFY_CHECK = """
import json, os, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import AirflowFailException

dag = DagBag(dag_folder=sys.argv[1]).dags["jing_pipeline"]
verify = dag.task_dict["verify"].python_callable
module = sys.modules[verify.__module__]
ok = {
    "run_id": "r1", "status": "succeeded", "exit_code": 0, "failed_ratio": 0.0,
    "counts": {"applied": 3, "failed": 0, "rejected": 0},
}
within = {**ok, "failed_ratio": 0.1, "counts": {"applied": 9, "failed": 1, "rejected": 0}}
over = {**ok, "status": "failed", "exit_code": 1, "failed_ratio": 0.5,
        "counts": {"applied": 1, "failed": 2, "rejected": 0}}
results = {}
for name, summaries in {
    "ok": [ok],
    "within the ratio": [within],
    "over the ratio": [ok, {**over, "shard": "2/2"}],
    "aborted": [{**ok, "status": "aborted", "exit_code": 4}],
}.items():
    try:
        verify(summaries)
        results[name] = "passed"
    except AirflowFailException as exc:
        results[name] = str(exc)
results["shards"] = module.shard_list("3")
for code in (2, 3, 4):
    os.environ["JING_MELTANO_BIN"] = sys.argv[2] + f"/exit{code}"
    try:
        module.meltano("invoke", "anything")
    except Exception as exc:
        results[f"exit {code}"] = [type(exc).__name__, str(exc)]
print(json.dumps(results))
"""


def test_verify_applies_max_failed_ratio_and_exit_2_or_3_is_not_retried(
    airflow_bin: Path, tmp_path: Path
) -> None:
    # Stand-ins for meltano that only exit with a code: what the DAG does with each code is
    # under test here, not Meltano (the pipeline test below runs the real one).
    for code in (2, 3, 4):
        script = tmp_path / f"exit{code}"
        script.write_text(f"#!/bin/sh\nexit {code}\n")
        script.chmod(0o755)
    done = subprocess.run(
        [str(airflow_bin / "python"), "-c", VERIFY_CHECK, str(DAGS_FOLDER), str(tmp_path)],
        env=airflow_env(tmp_path / "home", JING_PROJECT_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results["ok"] == "passed"
    assert results["within the ratio"] == "passed"
    assert "shard 2/2" in results["over the ratio"] and "2 rows failed" in results["over the ratio"]
    assert "jing_sync_log" in results["over the ratio"]
    assert "status aborted" in results["aborted"]
    assert results["shards"] == ["1/3", "2/3", "3/3"]
    # AirflowFailException fails the task without its retries; RuntimeError is retried.
    assert results["exit 2"][0] == "AirflowFailException" and "not retried" in results["exit 2"][1]
    assert results["exit 3"][0] == "AirflowFailException"
    assert results["exit 4"][0] == "RuntimeError"


def seed_checkins_before_extract(warehouse: Path, sandbox: SandboxProcess) -> None:
    """A check-in list loaded by another system before the DAG runs (two registrants)."""
    pairs = [(r["target_entity_uuid"], r["omni_user_uuid"]) for r in sandbox.registrations()]
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute((PROJECT_DIR / "transform" / "00_checkins.sql").read_text())
        con.executemany(
            "INSERT INTO raw.checkins VALUES (?, ?, TIMESTAMPTZ '2026-03-01 09:30:00+00')",
            [list(pair) for pair in pairs[:: max(1, len(pairs) // 2)][:2]],
        )


def seed_checkins_in_postgres(url: str, sandbox: SandboxProcess) -> None:
    """The same check-ins, in the pg environment's warehouse."""
    pairs = [(r["target_entity_uuid"], r["omni_user_uuid"]) for r in sandbox.registrations()]
    with psycopg.connect(url, autocommit=True) as con:
        con.execute((PROJECT_DIR / "transform" / "postgres" / "00_checkins.sql").read_text())
        for pair in pairs[:: max(1, len(pairs) // 2)][:2]:
            con.execute(
                "INSERT INTO raw.checkins VALUES (%s, %s, TIMESTAMPTZ '2026-03-01 09:30:00+00')",
                list(pair),
            )


@pytest.mark.slow
@pytest.mark.parametrize("environment", ["dev", "pg"])
def test_airflow_dags_test_runs_the_pipeline(
    airflow_bin: Path,
    project_copy: Path,
    pipeline_sandbox: SandboxProcess,
    tmp_path: Path,
    environment: str,
    request: pytest.FixtureRequest,
) -> None:
    home = tmp_path / "airflow"
    meltano_env: dict[str, str] = {
        "TAP_JING_BASE_URL": pipeline_sandbox.url,
        "TARGET_JING_BASE_URL": pipeline_sandbox.url,
    }
    # With the pg environment the shards share one ledger in PostgreSQL and run at once:
    # the pool has a slot for each, and one for the extract.
    pool_slots = "1"
    if environment == "pg":
        postgres: PostgresServer = request.getfixturevalue("postgres")
        database = fresh_database(postgres, "airflow_pg")
        meltano_env = pg_environment(postgres, database, pipeline_sandbox)
        warehouse: Path | str = database_url(postgres, database)
        seed_checkins_in_postgres(str(warehouse), pipeline_sandbox)
        pool_slots = "3"
    else:
        warehouse = project_copy / "output" / "warehouse.duckdb"
        seed_checkins_before_extract(warehouse, pipeline_sandbox)
    env = airflow_env(
        home,
        JING_PROJECT_DIR=str(project_copy),
        JING_MELTANO_ENV=environment,
        JING_WRITEBACK_SHARDS="2",
        **meltano_env,
    )
    before = statuses(pipeline_sandbox.registrations())

    migrate = subprocess.run(
        [str(airflow_bin / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    pool = subprocess.run(
        [str(airflow_bin / "airflow"), "pools", "set", "jing_api", pool_slots, "JING Open API"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert pool.returncode == 0, pool.stderr[-3000:]
    run = subprocess.run(
        [str(airflow_bin / "airflow"), "dags", "test", "jing_pipeline"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = run.stdout + run.stderr
    (tmp_path / "dags-test.log").write_text(output)
    assert run.returncode == 0, output[-5000:]
    assert "state=success" in output, output[-5000:]
    for task_id in ("extract", "decide", "shards", "write_back", "verify"):
        assert f"[DAG TEST] end task task_id={task_id}" in output
    # Two shards of the write-back, each its own mapped task.
    assert output.count("[DAG TEST] end task task_id=write_back") == 2, output[-5000:]

    after = statuses(pipeline_sandbox.registrations())
    assert after == expected_statuses(before, warehouse)
    assert after != before
    if environment == "pg":
        # Nothing a later task needs was left on the worker's disk.
        assert not (project_copy / "output").exists()
        assert not list((project_copy / ".meltano").glob("*.db"))
