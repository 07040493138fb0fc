"""Faults in the middle of a sync change nothing in what the tap emits."""

from __future__ import annotations

import json
from collections.abc import Callable

from tap_runner import TapRun

from jing_sandbox.process import SandboxProcess
from jing_singer import exit_codes


def emitted(run: TapRun) -> dict[str, list[str]]:
    """Each stream's records, order-free, for comparing two runs."""
    return {
        stream: sorted(json.dumps(r, sort_keys=True) for r in records)
        for stream, records in run.records.items()
    }


def test_expiring_tokens_throttling_and_server_errors_emit_what_a_clean_run_emits(
    sandbox: SandboxProcess, run_tap: Callable[..., TapRun]
) -> None:
    config = sandbox.config(requests_per_second=1000, page_size=50, backoff_base_seconds=0.05)
    clean = run_tap(config)
    assert clean.returncode == 0, clean.stderr

    sandbox.reset()
    # Tokens die every 4 calls; about one call in five is throttled (HTTP 429 or
    # code 42900, Retry-After 0) or fails (HTTP 5xx or code 50000).
    sandbox.configure(expire_token_every=4, retry_after=0)
    sandbox.faults(throttle=0.1, http_5xx=0.08, code_50000=0.05)
    faulty = run_tap(config)
    stats = sandbox.stats()

    assert faulty.returncode == 0, faulty.stderr
    assert stats["throttled_http"] > 0 and stats["throttled_code"] > 0
    assert stats["faults_injected"].get("http_5xx", 0) > 0
    assert stats["faults_injected"].get("code_50000", 0) > 0
    assert stats["tokens_issued"] > 1, "the token expired during the sync"
    assert emitted(faulty) == emitted(clean)
    assert faulty.state == clean.state


def test_a_missing_permission_ends_the_run_with_one_clear_line(
    sandbox: SandboxProcess, run_tap: Callable[..., TapRun]
) -> None:
    sandbox.faults(path="/v1/user/list", permission=1.0)
    run = run_tap(sandbox.config(requests_per_second=1000))
    assert run.returncode == exit_codes.FATAL_AUTH  # as target-jing's
    stopped = [line for line in run.stderr.splitlines() if "tap-jing stopped" in line]
    assert len(stopped) == 1
    assert "JingPermissionError" in stopped[0] and "/v1/user/list" in stopped[0]
    assert "request_id=" in stopped[0]
    assert "Traceback" not in run.stderr


def test_text_that_no_utf8_holds_is_emitted_as_its_escape(
    sandbox: SandboxProcess, run_tap: Callable[..., TapRun]
) -> None:
    """JSON can carry a lone surrogate (an id or a name cut inside an emoji); no Singer
    message can. The record is emitted with it as its escape, and every other record
    with it. Before, the tap stopped with a UnicodeEncodeError at that record."""
    activity = sandbox.registrations()[0]["target_entity_uuid"]
    sandbox.register(activity, ["cut\ud83d"])
    run = run_tap(sandbox.config(requests_per_second=1000))
    assert run.returncode == 0, run.stderr
    assert run.count("activity_users") == sandbox.counts()["registrations"]
    for stream in ("activity_users", "users"):
        assert "cut\\ud83d" in {r["omni_user_uuid"] for r in run.records[stream]}
