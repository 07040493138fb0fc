"""The JING pipeline as an Airflow 3 DAG: extract -> decide -> write back -> verify.

Each task runs one command of the Meltano project (its own `.venv/bin/meltano`), so
the DAG holds no connector code and Airflow needs none of the project's packages:
copy this one file into the dags folder and point it at the project. Settings are
read when a task runs, never at parse time, because the scheduler parses this file
every few seconds and must not call a database, a network or a subprocess to do it:

| Airflow Variable      | environment variable | default                          |
|-----------------------|----------------------|----------------------------------|
| `jing_project_dir`    | `JING_PROJECT_DIR`   | (required)                       |
| `jing_meltano_env`    | `JING_MELTANO_ENV`   | `prod`                           |
| `jing_meltano_bin`    | `JING_MELTANO_BIN`   | `<project>/.venv/bin/meltano`    |

Secrets (`TAP_JING_APP_SECRET`, `TARGET_JING_APP_SECRET`, ...) reach Meltano through
the worker's environment or a secrets backend, never through this file.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Variable, dag, task
from airflow.sdk.exceptions import AirflowFailException


def setting(name: str, default: str = "") -> str:
    """An Airflow Variable, else the environment variable of the same name in capitals."""
    value = Variable.get(name, default=os.environ.get(name.upper()) or default)
    if not value:
        raise AirflowFailException(
            f"set the Airflow Variable {name} or the environment variable {name.upper()}"
        )
    return value


def meltano(*args: str, ok_codes: tuple[int, ...] = (0,)) -> str:
    """Run one Meltano command in the project and return its stdout.

    Meltano's log (stderr) goes straight to the task log as it is written; stdout is
    kept because the target and the decision step end it with a JSON summary. An
    exit code outside `ok_codes` fails the task, and Airflow retries it.
    """
    project_dir = Path(setting("jing_project_dir"))
    executable = setting("jing_meltano_bin", str(project_dir / ".venv" / "bin" / "meltano"))
    command = [executable, "--environment", setting("jing_meltano_env", "prod"), *args]
    print("running:", " ".join(command))
    done = subprocess.run(command, cwd=project_dir, stdout=subprocess.PIPE, text=True)
    print(done.stdout)
    if done.returncode not in ok_codes:
        raise RuntimeError(f"meltano {' '.join(args)} exited with {done.returncode}")
    return done.stdout


def last_json_line(stdout: str) -> dict[str, Any]:
    """The JSON summary that a command prints as its last stdout line."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        summary = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise AirflowFailException("the command printed no JSON summary") from None
    if not isinstance(summary, dict):
        raise AirflowFailException(f"the summary is not a JSON object: {lines[-1]}")
    return summary


@dag(
    dag_id="jing_pipeline",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": 2,
        "execution_timeout": timedelta(hours=2),
    },
    tags=["jing", "meltano"],
    doc_md=__doc__,
)
def jing_pipeline() -> None:
    """Copy JING into the warehouse, decide the statuses, send them back, check the result."""

    @task
    def extract() -> None:
        """Incremental extract: only what changed since the last bookmark."""
        meltano("run", "jing-extract")

    @task
    def decide() -> dict[str, Any]:
        """Run the decision SQL of transform/ on the warehouse."""
        return last_json_line(meltano("invoke", "jing-decide"))

    @task
    def write_back() -> dict[str, Any]:
        """Send the decided statuses; the ledger makes a retry send only what is missing.

        Exit code 1 means the run finished and recorded rows that failed: no retry can
        help those now (they stay pending for the next run), so `verify` reports them.
        """
        return last_json_line(meltano("invoke", "target-jing-sync:decisions", ok_codes=(0, 1)))

    @task(retries=0)
    def verify(summary: dict[str, Any]) -> None:
        """Fail the run when rows failed or were rejected, so that someone looks."""
        print("write-back summary:", json.dumps(summary, sort_keys=True))
        counts = summary.get("counts", {})
        failed, rejected = int(counts.get("failed", 0)), int(counts.get("rejected", 0))
        if failed or rejected or summary.get("status") != "succeeded":
            raise AirflowFailException(
                f"write-back run {summary.get('run_id')}: {failed} rows failed, {rejected} "
                f"rejected (status {summary.get('status')}); failed rows stay pending for the "
                "next run; see jing_sync_log in the ledger for each row's reason"
            )

    decided = decide()
    extract() >> decided
    summary = write_back()
    decided >> summary
    verify(summary)


jing_pipeline()
