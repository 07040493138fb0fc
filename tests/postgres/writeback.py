"""What the PostgreSQL tests share: wanted rows in a table, `target-jing sync` runs and counts."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
from pg_server import PostgresServer

from jing_sandbox.process import SandboxProcess

TARGET_JING = str(Path(sys.executable).parent / "target-jing")
BATCH_PATH = "/v1/activity/update/userStatus/batch"


def wanted(sandbox: SandboxProcess) -> list[dict[str, Any]]:
    """A wish per registration: statuses that mostly differ from the seeded ones."""
    return [
        {
            "activity_id": reg["target_entity_uuid"],
            "user_id": reg["omni_user_uuid"],
            "approve_status": str(1 + i % 2),
            "signin_status": "1" if i % 3 == 0 else "0",
        }
        for i, reg in enumerate(sandbox.registrations())
    ]


def load(postgres: PostgresServer, table: str, rows: list[dict[str, Any]]) -> None:
    """A table of `rows` (and a `note` column the write-back ignores), replacing any before."""
    with psycopg.connect(postgres.url, autocommit=True) as con:
        con.execute(f'DROP TABLE IF EXISTS "{table}"')
        con.execute(
            f'CREATE TABLE "{table}" (activity_id text, user_id text, '
            "approve_status text, signin_status text, note text)"
        )
        with con.cursor().copy(
            f'COPY "{table}" (activity_id, user_id, approve_status, signin_status) FROM STDIN'
        ) as copy:
            for row in rows:
                copy.write_row(list(row.values()))


def minimum(rows: list[dict[str, Any]]) -> int:
    """The fewest update calls: one per 100 users of one activity with the same values."""
    groups = Counter((r["activity_id"], r["approve_status"], r["signin_status"]) for r in rows)
    return sum(math.ceil(n / 100) for n in groups.values())


def sync_command(tmp_path: Path, config: dict[str, Any], *args: str, name: str = "") -> list[str]:
    """The command line of `target-jing sync` with `config` written to a file of its own."""
    config_file = tmp_path / f"config{name}.json"
    config_file.write_text(json.dumps(config))
    return [TARGET_JING, "sync", "--config", str(config_file), *args]


def sync(tmp_path: Path, config: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        sync_command(tmp_path, config, *args),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "TARGET_JING_LOGLEVEL": "DEBUG"},
    )


def summary(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.stdout.strip(), done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def calls(sandbox: SandboxProcess) -> int:
    return sandbox.stats()["calls"].get(BATCH_PATH, 0)


def assert_held(sandbox: SandboxProcess, rows: list[dict[str, Any]]) -> None:
    """The sandbox holds every row's wanted statuses."""
    held = {(r["target_entity_uuid"], r["omni_user_uuid"]): r for r in sandbox.registrations()}
    for row in rows:
        registration = held[(row["activity_id"], row["user_id"])]
        assert registration["ems_approvestatus"] == row["approve_status"], row
        assert registration["ems_signinstatus"] == row["signin_status"], row
