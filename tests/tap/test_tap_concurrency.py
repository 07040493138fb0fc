"""Registrations fetched several activities at once: same output, within the cap, no gap."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tap_runner import TAP, TapRun

from jing_sandbox.process import SandboxProcess

REGISTRATIONS = "/v1/activity/user/list"


def _partition_order(records: list[dict[str, Any]]) -> list[str]:
    """The activities in the order their registrations came, each once per run of records."""
    order: list[str] = []
    for record in records:
        if not order or order[-1] != record["target_entity_uuid"]:
            order.append(record["target_entity_uuid"])
    return order


def test_concurrent_partitions_emit_what_a_sequential_run_emits_in_the_same_order(
    sandbox_factory: Callable[..., SandboxProcess], run_tap: Callable[..., TapRun]
) -> None:
    sandbox = sandbox_factory(activities=12, users=400, registrations=3000, latency_ms=5)
    sequential = run_tap(sandbox.config(max_concurrency=1, page_size=25))
    concurrent = run_tap(sandbox.config(max_concurrency=5, page_size=25))
    assert sequential.returncode == 0, sequential.stderr
    assert concurrent.returncode == 0, concurrent.stderr

    assert concurrent.count("activity_users") == sandbox.counts()["registrations"]
    for stream in ("activities", "activity_users", "users"):
        assert concurrent.records[stream] == sequential.records[stream], stream
    # Partition by partition: each activity's registrations come in one run, in order.
    order = _partition_order(concurrent.records["activity_users"])
    assert len(order) == len(set(order)) == 12
    for activity in order:
        times = [
            r["updated_time"]
            for r in concurrent.records["activity_users"]
            if r["target_entity_uuid"] == activity
        ]
        assert times == sorted(times)
    assert concurrent.state == sequential.state

    # The state of a concurrent run means the same: a re-run from it emits nothing.
    again = run_tap(sandbox.config(max_concurrency=5, page_size=25), concurrent.state)
    assert again.returncode == 0, again.stderr
    assert again.records == {}


def test_calls_in_flight_stay_within_max_concurrency_and_the_pace(
    sandbox_factory: Callable[..., SandboxProcess], run_tap: Callable[..., TapRun]
) -> None:
    # The sandbox admits far more than the tap may use, so its stats show the tap's own cap.
    sandbox = sandbox_factory(activities=10, users=300, registrations=2500, latency_ms=40)
    sandbox.reset()
    run = run_tap(sandbox.config(max_concurrency=3, requests_per_second=60, page_size=20))
    assert run.returncode == 0, run.stderr
    stats = sandbox.stats()
    assert 1 < stats["max_in_flight"] <= 3
    assert stats["throttled"] == 0
    assert run.count("activity_users") == sandbox.counts()["registrations"]


def _read_until_killed(config_file: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run the tap, SIGKILL it at its first STATE with partitions; what a target kept then.

    A target keeps the records that came before the STATE it last saw: those, and
    that STATE, are returned.
    """
    kept: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    with subprocess.Popen(
        [TAP, "--config", str(config_file)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as tap:
        assert tap.stdout is not None
        for line in tap.stdout:
            message = json.loads(line)
            if message["type"] == "RECORD" and message["stream"] == "activity_users":
                pending.append(message["record"])
            elif message["type"] == "STATE":
                partitions = (
                    message["value"]
                    .get("bookmarks", {})
                    .get("activity_users", {})
                    .get("partitions", [])
                )
                if any("replication_key_value" in p for p in partitions):
                    kept += pending
                    tap.send_signal(signal.SIGKILL)
                    tap.wait()
                    return kept, message["value"]
    raise AssertionError("the tap ended before it wrote a STATE with a partition")


def test_a_run_killed_while_partitions_are_in_flight_resumes_with_nothing_missing(
    sandbox_factory: Callable[..., SandboxProcess], run_tap: Callable[..., TapRun], tmp_path: Path
) -> None:
    # Slow answers keep several partitions in flight when the first one ends.
    sandbox = sandbox_factory(activities=8, users=300, registrations=2400, latency_ms=30)
    config = sandbox.config(max_concurrency=4, page_size=20, requests_per_second=1000)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))

    kept, state = _read_until_killed(config_file)
    done = {
        p["context"]["target_entity_uuid"]
        for p in state["bookmarks"]["activity_users"]["partitions"]
        if "replication_key_value" in p
    }
    assert 0 < len(done) < 8, "killed with partitions left to do"

    resumed = run_tap(config, state)
    assert resumed.returncode == 0, resumed.stderr
    every = {r["jing_uuid"] for r in sandbox.registrations()}
    seen = {r["jing_uuid"] for r in kept} | {
        r["jing_uuid"] for r in resumed.records.get("activity_users", [])
    }
    assert seen == every
    # A partition finished before the kill is not read again (its bookmark holds).
    resumed_activities = {r["target_entity_uuid"] for r in resumed.records["activity_users"]}
    assert not resumed_activities & done

    # And the resumed run's state is complete: from it, nothing is emitted.
    again = run_tap(config, resumed.state)
    assert again.returncode == 0, again.stderr
    assert again.records == {}
