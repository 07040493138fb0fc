"""Incremental runs: a re-run emits exactly what changed, and nothing when nothing did."""

from __future__ import annotations

from collections.abc import Callable

from tap_runner import TapRun

from jing_client import ClientSettings, JingClient
from jing_sandbox.process import SandboxProcess


def test_a_run_with_the_state_emits_exactly_the_changed_registrations(
    sandbox: SandboxProcess, run_tap: Callable[..., TapRun]
) -> None:
    config = sandbox.config(requests_per_second=1000)
    counts = sandbox.counts()

    full = run_tap(config)
    assert full.returncode == 0, full.stderr
    assert full.count("activities") == counts["activities"]
    assert full.count("activity_users") == counts["registrations"]
    assert full.count("users") == counts["users"]

    unchanged = run_tap(config, full.state)
    assert unchanged.returncode == 0, unchanged.stderr
    assert unchanged.records == {}

    # Change statuses of a few registrations in two activities, through the batch endpoint.
    registrations = sandbox.registrations()
    activities = sorted({r["target_entity_uuid"] for r in registrations})[:2]
    changed: dict[str, dict[str, str]] = {}
    with JingClient(ClientSettings.from_config(config)) as client:
        for activity, wanted in zip(activities, ("2", "1"), strict=True):
            mine = [r for r in registrations if r["target_entity_uuid"] == activity]
            targets = [r for r in mine if r["ems_approvestatus"] != wanted][:3]
            user_ids = [r["omni_user_uuid"] for r in targets]
            answer = client.update_user_status(activity, user_ids, {"ems_approvestatus": wanted})
            assert len(answer.data) == len(user_ids)
            changed.update({r["jing_uuid"]: {"ems_approvestatus": wanted} for r in targets})

    after_change = run_tap(config, unchanged.state)
    assert after_change.returncode == 0, after_change.stderr
    assert set(after_change.records) == {"activity_users"}, "only registrations changed"
    emitted = {r["jing_uuid"]: r for r in after_change.records["activity_users"]}
    assert set(emitted) == set(changed)
    for jing_uuid, fields in changed.items():
        assert emitted[jing_uuid]["ems_approvestatus"] == fields["ems_approvestatus"]

    again = run_tap(config, after_change.state)
    assert again.returncode == 0, again.stderr
    assert again.count("activity_users") == 0
    assert again.records == {}


def test_start_date_limits_the_first_run_and_bookmarks_are_utc_instants(
    sandbox: SandboxProcess, run_tap: Callable[..., TapRun]
) -> None:
    registrations = sandbox.registrations()
    times = sorted(r["updated_time"] for r in registrations)
    middle = times[len(times) // 2]  # API time, Asia/Shanghai
    start_date = middle.replace(" ", "T") + "+08:00"
    expected = {r["jing_uuid"] for r in registrations if r["updated_time"] >= middle}

    run = run_tap(sandbox.config(requests_per_second=1000, start_date=start_date))
    assert run.returncode == 0, run.stderr
    assert {r["jing_uuid"] for r in run.records["activity_users"]} == expected
    for record in run.records["activity_users"]:
        assert record["updated_time"].endswith("+00:00")
    bookmarks = run.state["bookmarks"]["activity_users"]["partitions"]
    assert all(p["replication_key_value"].endswith("+00:00") for p in bookmarks)


def test_many_activities_keep_one_bookmark_each_without_a_state_per_partition(
    sandbox_factory: Callable[..., SandboxProcess], run_tap: Callable[..., TapRun]
) -> None:
    sandbox = sandbox_factory(activities=300, users=200, registrations=900)
    config = sandbox.config(requests_per_second=10000)
    full = run_tap(config)
    assert full.returncode == 0, full.stderr
    assert full.count("activity_users") == sandbox.counts()["registrations"]
    partitions = full.state["bookmarks"]["activity_users"]["partitions"]
    with_registrations = {r["target_entity_uuid"] for r in sandbox.registrations()}
    assert {p["context"]["target_entity_uuid"] for p in partitions} >= with_registrations
    states = sum(1 for line in full.stdout.splitlines() if line.startswith('{"type":"STATE"'))
    assert states < 20, "not one STATE message (each holding every partition) per activity"

    again = run_tap(config, full.state)
    assert again.returncode == 0, again.stderr
    assert again.records == {}


def test_many_registrations_in_one_second_are_not_emitted_again(
    sandbox: SandboxProcess, run_tap: Callable[..., TapRun]
) -> None:
    """More than 1,000 registrations share the bookmark's second: a re-run emits none of them."""
    config = sandbox.config(requests_per_second=1000)
    activity = sandbox.registrations()[0]["target_entity_uuid"]
    bulk = [f"bulk_user_{n:05d}" for n in range(1_500)]
    sandbox.register(activity, bulk)  # one call: every new registration at the same second
    full = run_tap(config)
    assert full.returncode == 0, full.stderr
    assert full.count("activity_users") == sandbox.counts()["registrations"]

    again = run_tap(config, full.state)
    assert again.returncode == 0, again.stderr
    assert again.count("activity_users") == 0

    # One of them changes within a later run: only it is emitted.
    with JingClient(ClientSettings.from_config(config)) as client:
        client.update_user_status(activity, [bulk[7]], {"ems_approvestatus": "2"})
    changed = run_tap(config, again.state)
    assert [r["omni_user_uuid"] for r in changed.records["activity_users"]] == [bulk[7]]
