"""`target-jing sync --shard K/N`: disjoint activities, together all of them, within budget."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from surface_helpers import (
    TARGET_JING,
    assert_sandbox_holds,
    minimum_calls,
    run_target,
    summary_of,
    update_calls,
    wanted_rows,
    write_config,
    write_warehouse,
)

from jing_client import ClientSettings
from jing_sandbox.process import SandboxProcess
from jing_singer import exit_codes
from target_jing.shards import Shard


def _sync(config: Path, warehouse: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_target(
        "sync", "--config", str(config), "--duckdb", str(warehouse), "--table", "wanted_status",
        *args, cwd=warehouse.parent,
    )  # fmt: skip


def test_shards_one_after_another_cover_every_activity_once(
    sandbox_factory: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    sandbox = sandbox_factory(activities=12, users=200, registrations=600)
    rows = wanted_rows(sandbox)
    # A row without an activity id belongs to shard 1 alone, which logs its rejection.
    rows.append({**rows[0], "activity_id": None})
    warehouse = write_warehouse(tmp_path / "warehouse.duckdb", rows)
    config = write_config(
        tmp_path / "config.json", sandbox.config(requests_per_second=1000, max_failed_ratio=0.5)
    )

    activities_by_shard = []
    for k in (1, 2, 3):
        done = _sync(config, warehouse, "--shard", f"{k}/3")
        assert done.returncode == exit_codes.OK, done.stderr[-2000:]
        summary = summary_of(done)
        shard = Shard(k, 3)
        mine = [r for r in rows if shard.holds(r["activity_id"])]
        assert summary["rows_in"] == len(mine)
        assert summary["counts"]["rejected"] == (1 if k == 1 else 0)
        assert summary["update_calls"] == minimum_calls([r for r in mine if r["activity_id"]])
        activities_by_shard.append({r["activity_id"] for r in mine if r["activity_id"]})
    assert sum(map(len, activities_by_shard)) == 12  # disjoint, and every activity once
    assert update_calls(sandbox) == minimum_calls(rows[:-1])
    assert_sandbox_holds(sandbox, rows[:-1])

    with duckdb.connect(str(tmp_path / "jing_ledger.duckdb"), read_only=True) as ledger:
        logged = ledger.execute("SELECT row_index, entity_uuid FROM jing_sync_log").fetchall()
    # Every input row once, by the shard that holds it, under its own row number.
    assert sorted(logged) == [(i, r["activity_id"]) for i, r in enumerate(rows)]
    again = _sync(config, warehouse, "--shard", "2/3")
    assert summary_of(again)["update_calls"] == 0


def test_a_shard_takes_only_its_own_pending_rows(
    sandbox_factory: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    sandbox = sandbox_factory(activities=8, users=200, registrations=400)
    rows = wanted_rows(sandbox)
    warehouse = write_warehouse(tmp_path / "warehouse.duckdb", rows)
    once = sandbox.config(requests_per_second=1000, max_attempts=1)
    config = write_config(tmp_path / "config.json", once)
    # Every call fails before it changes anything: every row ends pending.
    sandbox.faults(path="/v1/activity/update/userStatus/batch", http_5xx=1.0)
    assert _sync(config, warehouse).returncode != exit_codes.OK
    sandbox.faults()

    # Shard 1 of 2 with no input rows at all retries the pending rows of its activities only.
    empty = write_warehouse(tmp_path / "empty.duckdb", rows[:1])
    with duckdb.connect(str(empty)) as con:
        con.execute("DELETE FROM wanted_status")
    ledger = tmp_path / "jing_ledger.duckdb"
    config = write_config(tmp_path / "config.json", {**once, "ledger_path": str(ledger)})
    done = _sync(config, empty, "--shard", "1/2")
    assert done.returncode == exit_codes.OK, done.stderr[-2000:]
    shard = Shard(1, 2)
    mine = [r for r in rows if shard.holds(r["activity_id"])]
    assert 0 < len(mine) < len(rows)
    assert summary_of(done)["counts"]["applied"] == len(mine)
    assert_sandbox_holds(sandbox, mine)
    with duckdb.connect(str(ledger), read_only=True) as con:
        waiting = con.execute(
            "SELECT DISTINCT entity_uuid FROM jing_pending WHERE state = 'pending'"
        ).fetchall()
    assert waiting and not any(shard.holds(activity) for (activity,) in waiting)


def test_a_second_shard_on_the_same_duckdb_ledger_is_refused_and_says_why(
    sandbox_factory: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    sandbox = sandbox_factory(activities=4, users=200, registrations=400)
    warehouse = write_warehouse(tmp_path / "warehouse.duckdb", wanted_rows(sandbox))
    slow = {"requests_per_second": 4, "batch_size": 5}
    config = write_config(tmp_path / "config.json", sandbox.config(**slow))
    command = [TARGET_JING, "sync", "--config", str(config), "--duckdb", str(warehouse)]
    with subprocess.Popen(
        [*command, "--table", "wanted_status", "--shard", "1/2"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as first:
        try:
            deadline = time.monotonic() + 30
            while update_calls(sandbox) == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            second = _sync(config, warehouse, "--shard", "2/2")
            assert first.poll() is None, "the first shard was still sending"
        finally:
            first.kill()
    assert second.returncode == exit_codes.BAD_INPUT
    assert "Shard 2/2: a DuckDB ledger file takes one run at a time" in second.stderr
    assert "its own ledger_path" in second.stderr


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0", ""])
def test_a_shard_that_is_not_k_of_n_is_a_config_error(
    small_sandbox: SandboxProcess, tmp_path: Path, text: str
) -> None:
    warehouse = write_warehouse(tmp_path / "warehouse.duckdb", wanted_rows(small_sandbox))
    config = write_config(tmp_path / "config.json", small_sandbox.config())
    done = _sync(config, warehouse, "--shard", text)
    assert done.returncode == exit_codes.BAD_INPUT
    assert "--shard must be K/N" in done.stderr
    assert update_calls(small_sandbox) == 0


def test_each_shard_takes_its_part_of_the_budget() -> None:
    client = ClientSettings.from_config(
        {"app_id": "a", "app_secret": "s", "requests_per_second": 20, "max_concurrency": 5}
    )
    quarter = Shard(2, 4).share(client)
    assert quarter.requests_per_second == 5
    assert quarter.max_concurrency == 1
    assert Shard(1, 1).share(client) == client
    # Every activity id falls in exactly one shard, and the split is near even.
    ids = [f"act-{n}" for n in range(4000)]
    counts = [sum(Shard(k, 4).holds(i) for i in ids) for k in range(1, 5)]
    assert sum(counts) == 4000 and min(counts) > 850
