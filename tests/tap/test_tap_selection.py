"""Settings and catalog choices that narrow or widen what the tap reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tap_runner import TapRun

from jing_sandbox.process import SandboxProcess


def test_activity_ids_limit_the_activities_and_their_registrations(
    sandbox: SandboxProcess, run_tap: Callable[..., TapRun]
) -> None:
    registrations = sandbox.registrations()
    chosen = registrations[0]["target_entity_uuid"]
    run = run_tap(sandbox.config(activity_ids=[chosen, "noSuchActivity0000000x"]))
    assert run.returncode == 0, run.stderr
    assert [a["entity_uuid"] for a in run.records["activities"]] == [chosen]
    expected = {r["jing_uuid"] for r in registrations if r["target_entity_uuid"] == chosen}
    assert {r["jing_uuid"] for r in run.records["activity_users"]} == expected
    assert "'noSuchActivity0000000x' was not in the listing" in run.stderr


def test_activity_details_add_description_and_form_fields(
    sandbox: SandboxProcess, run_tap: Callable[..., TapRun]
) -> None:
    run = run_tap(sandbox.config(include_activity_details=True))
    assert run.returncode == 0, run.stderr
    activities = run.records["activities"]
    assert activities and all(a["description"] is not None for a in activities)
    assert all(isinstance(a["form_fields"], list) for a in activities)
    calls = sandbox.stats()["calls"]
    assert calls["/v1/activity/detail"] == len(activities), "one detail call per activity"


def test_registrations_are_read_when_activities_are_not_selected(
    sandbox: SandboxProcess, run_tap: Callable[..., TapRun], tmp_path: Path
) -> None:
    config = sandbox.config(include_activity_details=True)
    catalog = json.loads(run_tap(config, None, "--discover").stdout)
    for entry in catalog["streams"]:
        if entry["stream"] != "activity_users":
            for metadata in entry["metadata"]:
                if metadata["breadcrumb"] == []:
                    metadata["metadata"]["selected"] = False
    catalog_file = tmp_path / "catalog.json"
    catalog_file.write_text(json.dumps(catalog))

    sandbox.reset()
    run = run_tap(config, None, "--catalog", str(catalog_file))
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    streams = {m["stream"] for m in lines if m["type"] == "RECORD"}
    assert streams == {"activity_users"}
    records = sum(1 for m in lines if m["type"] == "RECORD")
    assert records == sandbox.counts()["registrations"]
    calls = sandbox.stats()["calls"]
    assert "/v1/activity/detail" not in calls, "no details for activities nobody emits"
    assert "/v1/user/list" not in calls
