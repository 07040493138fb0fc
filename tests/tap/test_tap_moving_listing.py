"""A listing that changes while the tap pages through it loses no record.

Updated registrations move to the end of the API's list, so the pages after them
shift. These runs move registrations while the tap reads, one page at a time and
with pages fetched ahead and answered out of order; every registration must come
out of one run or the next as JING holds it. The exhaustive model of the same
is test_tap_shift_watch.
"""

from __future__ import annotations

import json
import random
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tap_runner import TAP, TapRun, parse_messages

from jing_client import ClientSettings, JingClient
from jing_sandbox.process import SandboxProcess

REGISTRATIONS = "/v1/activity/user/list"


def test_records_updated_mid_listing_are_all_read_by_the_next_run(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    registrations = sandbox.registrations()
    activity, _ = Counter(r["target_entity_uuid"] for r in registrations).most_common(1)[0]
    mine = sorted(
        (r for r in registrations if r["target_entity_uuid"] == activity),
        key=lambda r: (r["updated_time"], r["jing_uuid"]),
    )
    assert len(mine) >= 60
    config = sandbox.config(activity_ids=[activity], page_size=10, requests_per_second=1000)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))

    # Each registration page takes 50 ms; once the tap is a few pages in, the records
    # of its first page change and move to the end of the list.
    sandbox.faults(path=REGISTRATIONS, slow=1.0, slow_seconds=0.05)
    moved = [r["omni_user_uuid"] for r in mine[:5]]
    first = run_while_moving(
        sandbox, config_file, None, [(4, activity, moved, {"ems_signinstatus": "1"})]
    )
    assert first.returncode == 0, first.stderr
    assert "the listing changed while it was read" in first.stderr

    sandbox.faults()
    second = run_while_moving(sandbox, config_file, first.state, [])
    assert second.returncode == 0, second.stderr

    latest: dict[str, dict[str, object]] = {}
    for run in (first, second):
        for record in run.records.get("activity_users", []):
            latest[record["jing_uuid"]] = record
    now = {r["jing_uuid"]: r for r in sandbox.registrations(activity)}
    assert set(latest) == set(now), "every registration was read by one run or the other"
    for jing_uuid, registration in now.items():
        assert latest[jing_uuid]["ems_signinstatus"] == registration["ems_signinstatus"]


def run_while_moving(
    sandbox: SandboxProcess,
    config_file: Path,
    state: dict[str, Any] | None,
    moves: list[tuple[int, str, list[str], dict[str, str]]],
) -> TapRun:
    """One tap run; each move `(calls, activity, user_ids, fields)` is made once the run has
    made `calls` registration calls. Moves not made before the run ends are made after it.

    The output goes to files, not pipes: a pipe nobody reads while the moves are made
    would fill and stop the tap."""
    run = f"run-{time.monotonic_ns()}"
    command = [TAP, "--config", str(config_file)]
    if state is not None:
        state_file = config_file.with_name(f"{run}.state.json")
        state_file.write_text(json.dumps(state))
        command += ["--state", str(state_file)]
    out, err = config_file.with_name(f"{run}.out"), config_file.with_name(f"{run}.err")
    start = sandbox.stats()["calls"].get(REGISTRATIONS, 0)
    config = json.loads(config_file.read_text())
    pending = sorted(moves, key=lambda move: move[0])
    with (
        JingClient(ClientSettings.from_config(config)) as client,
        out.open("w") as stdout,
        err.open("w") as stderr,
        subprocess.Popen(command, stdout=stdout, stderr=stderr) as tap,
    ):
        while pending and tap.poll() is None:
            made = sandbox.stats()["calls"].get(REGISTRATIONS, 0) - start
            while pending and pending[0][0] <= made:
                _, activity, user_ids, fields = pending.pop(0)
                client.update_user_status(activity, user_ids, fields)
            time.sleep(0.005)
        tap.wait(timeout=120)
        for _, activity, user_ids, fields in pending:
            client.update_user_status(activity, user_ids, fields)
    return parse_messages(TapRun(tap.returncode, out.read_text(), err.read_text()))


def test_registrations_moving_while_pages_answer_out_of_order_are_all_read(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """Half the pages are slow, so pages fetched ahead are answered out of order."""
    registrations = sandbox.registrations()
    by_activity = Counter(r["target_entity_uuid"] for r in registrations)
    activities = [activity for activity, _ in by_activity.most_common(2)]
    users = {
        activity: [
            r["omni_user_uuid"] for r in registrations if r["target_entity_uuid"] == activity
        ]
        for activity in activities
    }
    config = sandbox.config(
        activity_ids=activities, page_size=10, max_concurrency=5, requests_per_second=1000
    )
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    sandbox.faults(path=REGISTRATIONS, slow=0.5, slow_seconds=0.04)
    rng = random.Random(20261201)

    latest: dict[str, dict[str, Any]] = {}
    state = None
    for round_ in range(4):
        moves = [
            (
                rng.randrange(1, 12),
                activity,
                rng.sample(users[activity], rng.randrange(1, 12)),
                {"ems_signinstatus": rng.choice("01"), "ems_approvestatus": rng.choice("012")},
            )
            for activity in rng.choices(activities, k=4)
        ]
        run = run_while_moving(sandbox, config_file, state, moves)
        assert run.returncode == 0, f"round {round_}: {run.stderr[-3000:]}"
        for record in run.records.get("activity_users", []):
            latest[record["jing_uuid"]] = record
        state = run.state

    sandbox.faults()
    last = run_while_moving(sandbox, config_file, state, [])
    assert last.returncode == 0, last.stderr[-3000:]
    for record in last.records.get("activity_users", []):
        latest[record["jing_uuid"]] = record

    now = {r["jing_uuid"]: r for a in activities for r in sandbox.registrations(a)}
    assert set(latest) == set(now), "every registration was read by some run"
    for jing_uuid, registration in now.items():
        for name in ("ems_signinstatus", "ems_approvestatus"):
            assert latest[jing_uuid][name] == registration[name], (jing_uuid, name)


def test_a_run_killed_mid_listing_after_a_move_loses_nothing_on_resume(
    sandbox_factory: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    """The SDK writes a STATE every 10,000 records of a listing; a move is seen only at its end.

    So that STATE must not carry a bookmark past the records that the move made the
    listing skip: the run is killed right at it, and the resumed runs must still read
    every registration.
    """
    sandbox = sandbox_factory(activities=1, users=10_600, registrations=10_600)
    (activity,) = {r["target_entity_uuid"] for r in sandbox.registrations()}
    mine = sorted(
        sandbox.registrations(activity), key=lambda r: (r["updated_time"], r["jing_uuid"])
    )
    config = sandbox.config(page_size=100, requests_per_second=1000)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    sandbox.faults(path=REGISTRATIONS, slow=1.0, slow_seconds=0.01)

    start = sandbox.stats()["calls"].get(REGISTRATIONS, 0)
    moved = [r["omni_user_uuid"] for r in mine[:7]]
    killed = False
    with (
        JingClient(ClientSettings.from_config(config)) as client,
        subprocess.Popen(
            [TAP, "--config", str(config_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        ) as tap,
    ):
        assert tap.stdout is not None
        lines = []
        for line in tap.stdout:
            lines.append(line)
            message = json.loads(line)
            in_listing = message["type"] == "RECORD" and message["stream"] == "activity_users"
            if in_listing and moved and sandbox.stats()["calls"][REGISTRATIONS] - start >= 10:
                client.update_user_status(activity, moved, {"ems_signinstatus": "1"})
                moved = []
            if message["type"] == "STATE" and not moved:
                partitions = message["value"]["bookmarks"].get("activity_users", {})
                if partitions.get("partitions"):
                    tap.kill()
                    killed = True
                    break
        tap.wait(timeout=60)
    assert killed, "the tap wrote no STATE in the middle of the registrations"
    first = parse_messages(TapRun(0, "".join(lines), ""))
    assert first.count("activity_users") < len(mine), "killed before the listing ended"

    sandbox.faults()
    latest = {r["jing_uuid"]: r for r in first.records.get("activity_users", [])}
    state = first.state
    for _ in range(2):
        run = run_while_moving(sandbox, config_file, state, [])
        assert run.returncode == 0, run.stderr[-3000:]
        latest.update((r["jing_uuid"], r) for r in run.records.get("activity_users", []))
        state = run.state
    now = {r["jing_uuid"]: r for r in sandbox.registrations(activity)}
    assert set(latest) == set(now), f"{len(set(now) - set(latest))} registrations never read"
    for jing_uuid, registration in now.items():
        assert latest[jing_uuid]["ems_signinstatus"] == registration["ems_signinstatus"]
