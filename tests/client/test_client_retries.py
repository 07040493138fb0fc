"""Retries against a failing sandbox: Retry-After honoured, attempts and time bounded."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from client_helpers import path_calls

from jing_client import JingHeldOff, JingMalformedResponse, JingRateLimited, JingTransientError
from jing_client.client import EXCERPT_CHARS, JingClient
from jing_client.settings import Paths
from jing_sandbox.process import SandboxProcess

PATHS = Paths()
PAGE = {"page": 1, "page_size": 5}


def test_retry_after_is_honoured(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    sandbox.configure(throttle_http_ratio=1.0, retry_after=1)
    sandbox.faults(path=PATHS.activity_list, throttle=1.0)
    client = client_factory(sandbox, max_attempts=3)
    started = time.monotonic()
    with pytest.raises(JingRateLimited) as caught:
        client.call(PATHS.activity_list, PAGE)
    waited = time.monotonic() - started
    assert caught.value.retry_after == 1
    assert path_calls(sandbox, PATHS.activity_list) == 3
    assert waited >= 2.0  # two waits of Retry-After: 1, where the backoff alone is <= 0.05 s


def test_attempts_are_bounded_when_every_call_fails(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    sandbox.faults(http_5xx=1.0)
    client = client_factory(sandbox, max_attempts=5)
    with pytest.raises(JingTransientError):
        client.call(PATHS.activity_list, PAGE)
    assert sum(sandbox.stats()["calls"].values()) == 5  # the token call included
    assert client.stats()["retries"] == 4


def test_total_time_is_bounded_when_every_call_fails(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    sandbox.faults(path=PATHS.activity_list, code_50000=1.0)
    client = client_factory(
        sandbox,
        max_attempts=1000,
        max_retry_seconds=1.0,
        backoff_base_seconds=0.1,
        backoff_max_seconds=0.2,
    )
    started = time.monotonic()
    with pytest.raises(JingTransientError) as caught:
        client.call(PATHS.activity_list, PAGE)
    assert caught.value.code == 50000
    assert time.monotonic() - started <= 1.0 + 0.5  # the bound, plus the last call itself
    assert 3 <= path_calls(sandbox, PATHS.activity_list) < 1000


def test_read_timeout_is_transient_and_bounded(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    client = client_factory(sandbox, read_timeout=0.2, max_attempts=2)
    client.call(PATHS.activity_list, PAGE)  # the token first, before the answers slow down
    sandbox.faults(path=PATHS.activity_list, slow=1.0, slow_seconds=1.0)
    started = time.monotonic()
    with pytest.raises(JingTransientError) as caught:
        client.call(PATHS.activity_list, PAGE)
    assert "timed out" in str(caught.value)
    assert time.monotonic() - started < 1.0  # two attempts of 0.2 s, not the 1 s answers
    assert client.stats()["retries"] == 1


@pytest.mark.parametrize("kind", ["http_5xx", "code_50000", "drop", "drop_after", "malformed"])
def test_calls_succeed_through_occasional_faults(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient], kind: str
) -> None:
    sandbox.faults(**{kind: 0.3})
    client = client_factory(sandbox, max_attempts=8)
    for _ in range(15):
        assert client.call(PATHS.activity_list, PAGE).code == 0
    assert sandbox.stats()["faults_injected"].get(kind, 0) > 0
    assert client.stats()["retries"] > 0


def test_malformed_bodies_raise_after_bounded_retries(
    sandbox_factory: Callable[..., SandboxProcess],
    client_factory: Callable[..., JingClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox = sandbox_factory()  # a fresh fault seed: the same four garbled forms every run
    sandbox.faults(path=PATHS.activity_list, malformed=1.0)
    client = client_factory(sandbox, max_attempts=12)
    with (
        caplog.at_level("WARNING", logger="jing_client"),
        pytest.raises(JingMalformedResponse) as e,
    ):
        client.call(PATHS.activity_list, PAGE)
    assert path_calls(sandbox, PATHS.activity_list) == 12
    assert e.value.http_status == 200
    assert len(e.value.excerpt) <= EXCERPT_CHARS
    # The sandbox garbles four ways; with 12 tries each shows up in the retry log.
    text = caplog.text
    assert "body cut off" in text
    assert "empty body" in text
    assert "excerpt='<html>" in text
    assert "excerpt='{" in text  # JSON cut short, with the full length announced or not


def test_a_retry_after_past_the_cap_fails_at_once_and_holds_later_calls_unsent(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    sandbox.configure(throttle_http_ratio=1.0, retry_after=86400)
    sandbox.faults(path=PATHS.activity_list, throttle=1.0)
    client = client_factory(sandbox, max_attempts=8, max_retry_after_seconds=30)
    started = time.monotonic()
    with pytest.raises(JingRateLimited) as caught:
        client.call(PATHS.activity_list, PAGE)
    # The cap is the setting, and never past max_retry_seconds (10 s here).
    assert "past 10s (max_retry_after_seconds" in str(caught.value)
    for _ in range(3):  # the server asked for a day: later calls are not made at all
        with pytest.raises(JingHeldOff):
            client.call(PATHS.activity_list, PAGE)
    assert time.monotonic() - started < 5
    assert path_calls(sandbox, PATHS.activity_list) == 1


def test_a_retry_after_within_the_cap_still_holds_every_start(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    sandbox.configure(throttle_http_ratio=1.0, retry_after=1)
    sandbox.faults(path=PATHS.activity_list, throttle=1.0)
    client = client_factory(sandbox, max_attempts=2, max_retry_after_seconds=1)
    started = time.monotonic()
    with pytest.raises(JingRateLimited):
        client.call(PATHS.activity_list, PAGE)
    assert time.monotonic() - started >= 1.0
    assert path_calls(sandbox, PATHS.activity_list) == 2
