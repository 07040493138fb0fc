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
| `jing_writeback_shards` | `JING_WRITEBACK_SHARDS` | `1`                           |

The write-back is one mapped task per shard (`target-jing sync --shard K/N`), each
with 1/N of the API's budget. Every task that calls the API runs in the Airflow pool
`jing_api` (create it: `airflow pools set jing_api 2 "JING Open API"`): its slots cap
how many of them run at once. A DuckDB ledger takes one run at a time, so with it the
pool has 1 slot (the shards run one after another). With the `pg` environment
(`jing_meltano_env` = `pg`) the warehouse, the ledger and Meltano's state are in
PostgreSQL, no task leaves on its worker's disk anything a later task needs, and the
shards share one ledger and run at once: give the pool the shards plus one (for the
extract). Exit code 2 (bad config or input) and 3 (refused credentials or permission)
fail a task without retries: a retry cannot help.

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


#: The connectors' exit codes that no retry can help: bad config or input, and refused
#: credentials or permission (`jing_singer.exit_codes`).
NO_RETRY_CODES = {2: "bad config or input", 3: "refused credentials or permission"}
#: The pool of every task that calls the JING API.
API_POOL = "jing_api"


def meltano(*args: str, ok_codes: tuple[int, ...] = (0,)) -> str:
    """Run one Meltano command in the project and return its stdout.

    Meltano's log (stderr) goes straight to the task log as it is written; stdout is
    kept because the target and the decision step end it with a JSON summary. Exit
    codes 2 and 3 fail the task for good; any other outside `ok_codes` fails it, and
    Airflow retries it.
    """
    project_dir = Path(setting("jing_project_dir"))
    executable = setting("jing_meltano_bin", str(project_dir / ".venv" / "bin" / "meltano"))
    command = [executable, "--environment", setting("jing_meltano_env", "prod"), *args]
    print("running:", " ".join(command))
    done = subprocess.run(command, cwd=project_dir, stdout=subprocess.PIPE, text=True)
    print(done.stdout)
    if done.returncode in ok_codes:
        return done.stdout
    what = f"meltano {' '.join(args)} exited with {done.returncode}"
    if done.returncode in NO_RETRY_CODES:
        raise AirflowFailException(f"{what} ({NO_RETRY_CODES[done.returncode]}): not retried")
    raise RuntimeError(what)


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


def shard_list(count: str) -> list[str]:
    """`--shard` values for `count` shards: ["1/N", ..., "N/N"]."""
    if not count.strip().isdigit() or int(count) < 1:
        raise AirflowFailException(f"jing_writeback_shards must be a whole number >= 1: {count!r}")
    total = int(count)
    return [f"{k}/{total}" for k in range(1, total + 1)]


#: meltano.yml's schedule of the extract (`jing-extract-daily`); the DAG runs the rest after it.
SCHEDULE = "0 1 * * *"


@dag(
    dag_id="jing_pipeline",
    schedule=SCHEDULE,
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

    @task(pool=API_POOL)
    def extract() -> None:
        """Incremental extract: only what changed since the last bookmark."""
        meltano("run", "jing-extract")

    @task
    def decide() -> dict[str, Any]:
        """Run the decision SQL of transform/ on the warehouse."""
        return last_json_line(meltano("invoke", "jing-decide"))

    @task
    def shards() -> list[str]:
        """The write-back's shards, read when the run starts (never at parse time)."""
        return shard_list(setting("jing_writeback_shards", "1"))

    @task(pool=API_POOL)
    def write_back(shard: str) -> dict[str, Any]:
        """Send one shard's decided statuses; the ledger makes a retry send only what is missing.

        Exit code 1 means the run finished and recorded rows that failed: no retry can
        help those now (they stay pending for the next run), so `verify` reports them.
        """
        stdout = meltano("invoke", "target-jing-sync:decisions", "--shard", shard, ok_codes=(0, 1))
        return {**last_json_line(stdout), "shard": shard}

    @task(retries=0)
    def verify(summaries: list[dict[str, Any]]) -> None:
        """Fail the run when a shard's write-back did not succeed, by the target's own rule.

        The target succeeds while failed and rejected rows stay within
        `max_failed_ratio` (exit code 0); rows that failed within it stay pending
        for the next run and are reported here without failing the run.
        """
        bad = []
        for summary in summaries:
            print("write-back summary:", json.dumps(summary, sort_keys=True))
            counts = summary.get("counts", {})
            failed, rejected = int(counts.get("failed", 0)), int(counts.get("rejected", 0))
            succeeded = summary.get("status") == "succeeded" and summary.get("exit_code", 0) == 0
            if not succeeded:
                bad.append(
                    f"shard {summary.get('shard', '1/1')} run {summary.get('run_id')}: {failed} "
                    f"rows failed, {rejected} rejected (failed ratio "
                    f"{summary.get('failed_ratio', '?')}, status {summary.get('status')})"
                )
            elif failed or rejected:
                print(f"{failed} rows failed and {rejected} were rejected, within max_failed_ratio")
        if bad:
            raise AirflowFailException(
                "; ".join(bad) + ": failed rows stay pending for the next run; see "
                "jing_sync_log in the ledger for each row's reason"
            )

    decided = decide()
    extract() >> decided
    summaries = write_back.expand(shard=shards())
    decided >> summaries
    verify(summaries)


jing_pipeline()
