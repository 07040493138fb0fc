"""`target-jing` as a Singer target: records on stdin, STATE on stdout, the summary on stderr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
from surface_helpers import (
    BATCH_PATH,
    SIGNIN_AT,
    assert_sandbox_holds,
    minimum_calls,
    run_target,
    update_calls,
    wanted_rows,
    write_config,
)

from jing_sandbox.process import SandboxProcess
from jing_singer import exit_codes

STATUS_SCHEMA = {
    "type": "object",
    "properties": {
        "activity_id": {"type": "string"},
        "user_id": {"type": "string"},
        "approve_status": {"type": ["string", "null"]},
        "signin_status": {"type": ["string", "null"]},
        "signin_time": {"type": ["string", "null"], "format": "date-time"},
        "note": {"type": ["string", "null"]},
    },
}


def singer_lines(rows: list[dict[str, Any]]) -> str:
    """Two streams, interleaved with STATE: the status rows and an unrelated stream."""
    messages: list[dict[str, Any]] = [
        {
            "type": "SCHEMA",
            "stream": "status_updates",
            "schema": STATUS_SCHEMA,
            "key_properties": [],
        },
        {
            "type": "SCHEMA",
            "stream": "other",
            "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
            "key_properties": ["id"],
        },
    ]
    for i, row in enumerate(rows):
        record = {**row, "signin_time": SIGNIN_AT.isoformat() if row["signin_time"] else None}
        messages.append({"type": "RECORD", "stream": "status_updates", "record": record})
        messages.append({"type": "RECORD", "stream": "other", "record": {"id": i}})
        if i % 10 == 9:
            messages.append({"type": "STATE", "value": {"bookmarks": {"status_updates": i}}})
    messages.append({"type": "STATE", "value": {"bookmarks": {"status_updates": len(rows)}}})
    return "".join(json.dumps(m) + "\n" for m in messages)


def test_records_from_stdin_are_written_back_and_other_streams_ignored(
    small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    rows = wanted_rows(small_sandbox, limit=60)
    ledger = tmp_path / "ledger.duckdb"
    config = write_config(
        tmp_path / "config.json",
        small_sandbox.config(streams=["status_updates"], ledger_path=str(ledger)),
    )

    proc = run_target("--config", str(config), cwd=tmp_path, stdin=singer_lines(rows))

    assert proc.returncode == exit_codes.OK, proc.stderr
    assert update_calls(small_sandbox) == minimum_calls(rows)
    assert_sandbox_holds(small_sandbox, rows)
    assert "Ignoring stream 'other'" in proc.stderr
    # stdout carries only STATE (Meltano stores each JSON line there as state).
    states = [json.loads(line) for line in proc.stdout.splitlines()]
    assert states[-1] == {"bookmarks": {"status_updates": len(rows)}}
    summary = json.loads(proc.stderr.strip().splitlines()[-1])
    assert summary["counts"]["applied"] == len(rows)
    with duckdb.connect(str(ledger), read_only=True) as con:
        sources = con.execute("SELECT DISTINCT source FROM jing_sync_log").fetchall()
    assert sources == [("singer:status_updates",)]
    assert small_sandbox.app_secret not in proc.stdout + proc.stderr


def test_without_streams_setting_every_stream_is_taken(
    small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """The `other` stream's schema has no id columns: the run stops, exit 2, nothing sent."""
    rows = wanted_rows(small_sandbox, limit=5)
    config = write_config(
        tmp_path / "config.json", small_sandbox.config(ledger_path=str(tmp_path / "l.duckdb"))
    )
    before = small_sandbox.registrations()

    proc = run_target("--config", str(config), cwd=tmp_path, stdin=singer_lines(rows))

    assert proc.returncode == exit_codes.BAD_INPUT, proc.stderr
    assert "singer:other: no activity id column" in proc.stderr
    assert "columns: 'id'" in proc.stderr and "Traceback" not in proc.stderr
    assert small_sandbox.registrations() == before
    assert BATCH_PATH not in small_sandbox.stats()["calls"]


def test_bad_config_exits_2_before_reading_input(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config.json", {"app_id": "1", "app_secret": "abcdef123456", "batch_size": 0}
    )

    proc = run_target("--config", str(config), cwd=tmp_path, stdin="")

    assert proc.returncode == exit_codes.BAD_INPUT
    assert "batch_size" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "abcdef123456" not in proc.stderr


def test_about_lists_every_setting_with_secrets_marked(tmp_path: Path) -> None:
    proc = run_target("--about", "--format", "json", cwd=tmp_path)

    assert proc.returncode == 0, proc.stderr
    about = json.loads(proc.stdout)
    properties = about["settings"]["properties"]
    for name in (
        "app_id",
        "app_secret",
        "base_url",
        "requests_per_second",
        "user_status_batch_path",
        "bad_request_codes",
        "batch_size",
        "column_mapping",
        "signin_statuses",
        "approve_statuses",
        "source_timezone",
        "api_timezone",
        "ledger_path",
        "max_failed_ratio",
        "streams",
        "progress_interval_seconds",
    ):
        assert properties[name].get("description"), name
    assert properties["app_secret"]["secret"] is True
    assert {"about", "stream-maps", "schema-flattening", "structured-logging"} <= set(
        about["capabilities"]
    )


def test_a_run_without_records_retries_pending_rows_and_closes_killed_runs(
    small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """An incremental tap with nothing new sends SCHEMA and STATE only: pending work still runs."""
    ledger = tmp_path / "l.duckdb"
    config = write_config(tmp_path / "config.json", small_sandbox.config(ledger_path=str(ledger)))
    activity = small_sandbox.registrations()[0]["target_entity_uuid"]
    late = [
        {
            "activity_id": activity,
            "user_id": "late_user",
            "approve_status": "2",
            "signin_status": None,
            "signin_time": None,
        }
    ]
    schema_only = (
        json.dumps(
            {
                "type": "SCHEMA",
                "stream": "status_updates",
                "schema": STATUS_SCHEMA,
                "key_properties": [],
            }
        )
        + "\n"
        + json.dumps({"type": "STATE", "value": {"bookmarks": {}}})
        + "\n"
    )
    status_only = singer_lines(late).split("\n")
    status_only = [line for line in status_only if line and '"other"' not in line]
    failed = run_target("--config", str(config), cwd=tmp_path, stdin="\n".join(status_only) + "\n")
    assert failed.returncode == exit_codes.ROWS_FAILED, failed.stderr[-2000:]

    small_sandbox.register(activity, ["late_user"])
    quiet = run_target("--config", str(config), cwd=tmp_path, stdin=schema_only)
    assert quiet.returncode == exit_codes.OK, quiet.stderr[-2000:]
    summary = json.loads(quiet.stderr.strip().splitlines()[-1])
    assert summary["retried"] == 1 and summary["counts"]["applied"] == 1
    held = {r["omni_user_uuid"]: r for r in small_sandbox.registrations(activity)}
    assert held["late_user"]["ems_approvestatus"] == "2"
    import duckdb

    with duckdb.connect(str(ledger), read_only=True) as con:
        running = con.execute("SELECT count(*) FROM jing_sync_runs WHERE status = 'running'")
        assert running.fetchall() == [(0,)]
