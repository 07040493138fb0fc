"""The command line: discovery, the settings documentation, and bad settings."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from tap_runner import TapRun

from jing_sandbox.process import SandboxProcess
from jing_singer import exit_codes
from tap_jing.schemas import SCHEMAS
from tap_jing.tap import TapJing

# Nothing here calls the API: discovery and --about need no server.
CONFIG = {
    "app_id": "100000000000000000000000001",
    "app_secret": "5a4d0b0e5e1f4c7c9d3b2a1f0e9d8c7b",
    "base_url": "http://127.0.0.1:9",
}
STREAMS = {
    "activities": ["entity_uuid"],
    "activity_users": ["jing_uuid"],
    "users": ["omni_user_uuid"],
}


def test_discover_lists_the_three_streams_with_their_full_schemas(
    run_tap: Callable[..., TapRun],
) -> None:
    run = run_tap(CONFIG, None, "--discover")
    assert run.returncode == 0, run.stderr
    entries = {entry["stream"]: entry for entry in json.loads(run.stdout)["streams"]}
    assert set(entries) == set(STREAMS)
    for name, keys in STREAMS.items():
        entry = entries[name]
        assert entry["key_properties"] == keys
        assert entry["replication_key"] == "updated_time"
        assert entry["replication_method"] == "INCREMENTAL"
        assert entry["schema"]["properties"] == SCHEMAS.get_schema(name)["properties"]
    users = entries["users"]["schema"]["properties"]
    assert set(users["identities"]["items"]["properties"]) == {"type", "value", "name"}
    assert "object" in users["fields"]["type"]
    registration = entries["activity_users"]["schema"]["properties"]
    assert registration["ems_approvestatus"]["type"] == ["string", "null"]
    assert registration["ems_signintimestamp"]["format"] == "date-time"


def test_about_markdown_documents_every_setting(run_tap: Callable[..., TapRun]) -> None:
    run = run_tap(CONFIG, None, "--about", "--format", "markdown")
    assert run.returncode == 0, run.stderr
    rows = {line.split("|")[1].strip(): line for line in run.stdout.splitlines() if "|" in line}
    for name, schema in TapJing.config_jsonschema["properties"].items():
        assert name in rows, f"setting {name!r} is not documented"
        assert schema.get("description"), f"setting {name!r} has no description"
    assert TapJing.config_jsonschema["properties"]["app_secret"]["secret"] is True


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"app_secret": None}, "app_secret"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 101}, "page_size"),
        ({"requests_per_second": "fast"}, "requests_per_second"),
        ({"api_timezone": "Mars/Olympus"}, "api_timezone"),
        ({"base_url": "ftp://example.com"}, "base_url"),
        ({"base_url": "http://example.com"}, "allow_insecure_http"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"activity_list_path": "v1/activity/list"}, "activity_list_path"),
    ],
)
def test_a_bad_setting_gives_a_clear_message_naming_it(
    run_tap: Callable[..., TapRun], overrides: dict[str, object], named: str
) -> None:
    config = {**CONFIG, **overrides}
    run = run_tap({k: v for k, v in config.items() if v is not None})
    assert run.returncode == exit_codes.BAD_INPUT  # the target's code for a bad setting
    assert named in run.stderr
    assert "Config validation failed" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


def test_meltano_yml_declares_every_setting_of_the_tap() -> None:
    project = yaml.safe_load((Path(__file__).resolve().parents[2] / "meltano.yml").read_text())
    (tap,) = (p for p in project["plugins"]["extractors"] if p["name"] == "tap-jing")
    declared = {setting["name"]: setting for setting in tap["settings"]}
    builtin = {"stream_maps", "stream_map_config", "faker_config", "batch_config"}
    own = {
        name
        for name in TapJing.config_jsonschema["properties"]
        if name not in builtin and not name.startswith("flattening_")
    }
    assert set(declared) == own
    assert all(setting.get("kind") and setting.get("description") for setting in declared.values())
    secret = {name for name, s in declared.items() if s.get("sensitive")}
    assert secret == {"app_secret"}
    assert set(tap["capabilities"]) == {c.value for c in TapJing.capabilities}


def test_the_run_ends_with_a_summary_per_stream_that_counts_what_was_emitted(
    sandbox: SandboxProcess, run_tap: Callable[..., TapRun]
) -> None:
    config = sandbox.config(requests_per_second=1000)
    full = run_tap(config)
    assert full.returncode == 0, full.stderr
    lines = [
        line.split("tap-jing summary: ", 1)[1]
        for line in full.stderr.splitlines()
        if "tap-jing summary: " in line
    ]
    summary = {
        fields["stream"]: fields
        for fields in (dict(part.split("=", 1) for part in line.split()) for line in lines)
    }
    assert set(summary) == {"activities", "activity_users", "users"}
    for stream, fields in summary.items():
        assert int(fields["records"]) == full.count(stream), stream
        assert int(fields["http_calls"]) >= 1 and float(fields["seconds"]) >= 0
    assert int(summary["activity_users"]["partitions"]) == sandbox.counts()["activities"]
    unchanged = run_tap(config, full.state)
    quiet = [line for line in unchanged.stderr.splitlines() if "activity_users: activity" in line]
    assert quiet == [], "no line per activity when nothing changed"
    assert sum("tap-jing summary: " in line for line in unchanged.stderr.splitlines()) == 3
