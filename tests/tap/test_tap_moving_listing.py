"""A listing that changes while the tap pages through it loses no record."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from pathlib import Path

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
    with subprocess.Popen(
        [TAP, "--config", str(config_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as tap:
        deadline = time.monotonic() + 60
        while sandbox.stats()["calls"].get(REGISTRATIONS, 0) < 4:
            assert time.monotonic() < deadline and tap.poll() is None, "the tap did not start"
            time.sleep(0.01)
        with JingClient(ClientSettings.from_config(config)) as client:
            client.update_user_status(activity, moved, {"ems_signinstatus": "1"})
        stdout, stderr = tap.communicate(timeout=120)
    first = parse_messages(TapRun(tap.returncode, stdout, stderr))
    assert first.returncode == 0, stderr
    assert "the listing changed while it was read" in stderr

    sandbox.faults()
    second_file = tmp_path / "state.json"
    second_file.write_text(json.dumps(first.state))
    done = subprocess.run(
        [TAP, "--config", str(config_file), "--state", str(second_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    second = parse_messages(TapRun(done.returncode, done.stdout, done.stderr))
    assert second.returncode == 0, done.stderr

    latest: dict[str, dict[str, object]] = {}
    for run in (first, second):
        for record in run.records.get("activity_users", []):
            latest[record["jing_uuid"]] = record
    now = {r["jing_uuid"]: r for r in sandbox.registrations(activity)}
    assert set(latest) == set(now), "every registration was read by one run or the other"
    for jing_uuid, registration in now.items():
        assert latest[jing_uuid]["ems_signinstatus"] == registration["ems_signinstatus"]
