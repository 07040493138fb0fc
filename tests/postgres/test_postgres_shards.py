"""Four shard processes at once on one PostgreSQL ledger, against a sandbox of 20 requests/s."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pg_server import PostgresServer
from writeback import assert_held, calls, load, minimum, sync_command, wanted

from jing_sandbox.process import SandboxProcess

SHARDS = 4
RATE_LIMIT = 20


@pytest.fixture
def schema(postgres: PostgresServer) -> Iterator[str]:
    yield "shards_ledger"
    with psycopg.connect(postgres.url, autocommit=True) as con:
        con.execute('DROP SCHEMA IF EXISTS "shards_ledger" CASCADE')


def test_four_shards_at_once_share_one_ledger_and_the_budget(
    postgres: PostgresServer, sandbox_factory: Any, schema: str, tmp_path: Path
) -> None:
    # 24 activities of uneven size, about 130 update calls: several seconds at 20 calls/s.
    sandbox: SandboxProcess = sandbox_factory(
        activities=24, users=3000, registrations=9000, rate_limit=RATE_LIMIT
    )
    rows = wanted(sandbox)
    load(postgres, "shards_wanted", rows)
    config = sandbox.config(ledger_url=postgres.url, ledger_schema=schema, max_concurrency=4)
    children = [
        subprocess.Popen(
            sync_command(
                tmp_path,
                config,
                *("--postgres", postgres.url, "--table", "shards_wanted"),
                *("--shard", f"{k}/{SHARDS}"),
                name=f"-{k}",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(1, SHARDS + 1)
    ]
    outputs = [child.communicate(timeout=300) for child in children]

    for child, (_, stderr) in zip(children, outputs, strict=True):
        assert child.returncode == 0, stderr[-2000:]
        assert "ledger_lock_wait_seconds" not in stderr, stderr[-2000:]  # no wait for a lock
    summaries = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs]
    # The shards took disjoint activities that together are all of them.
    assert sum(s["rows_in"] for s in summaries) == len(rows)
    assert all(s["rows_in"] > 0 for s in summaries)
    assert_held(sandbox, rows)
    assert calls(sandbox) == minimum(rows) == sum(s["update_calls"] for s in summaries)
    stats = sandbox.stats()
    assert stats["throttled"] <= 0.05 * stats["calls"]["/v1/activity/update/userStatus/batch"]
    with psycopg.connect(postgres.url) as con:
        runs = con.execute(f'SELECT shard, status FROM "{schema}".jing_sync_runs').fetchall()
        logged = con.execute(f'SELECT count(*) FROM "{schema}".jing_sync_log').fetchone()
    assert sorted(runs) == [(f"{k}/{SHARDS}", "succeeded") for k in range(1, SHARDS + 1)]
    assert logged == (len(rows),)
