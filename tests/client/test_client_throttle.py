"""The shared limits against the sandbox: the concurrency cap and the rate."""

from __future__ import annotations

from collections.abc import Callable

from client_helpers import run_in_threads

from jing_client.client import JingClient
from jing_client.settings import Paths
from jing_sandbox.process import SandboxProcess

PATHS = Paths()
PAGE = {"page": 1, "page_size": 5}


def test_max_concurrency_caps_requests_in_flight(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    sandbox.faults(path=PATHS.activity_list, slow=1.0, slow_seconds=0.1)
    client = client_factory(sandbox, max_concurrency=3)

    def three_calls() -> None:
        for _ in range(3):
            client.call(PATHS.activity_list, PAGE)

    assert run_in_threads(12, three_calls) == []
    stats = sandbox.stats()
    assert stats["calls"][PATHS.activity_list] == 36
    assert stats["max_in_flight"] == 3


def test_requests_per_second_keeps_under_the_server_limit(
    sandbox_factory: Callable[..., SandboxProcess], client_factory: Callable[..., JingClient]
) -> None:
    # The sandbox allows a burst of 20 and 20 a second; 31 calls at once would be throttled.
    sandbox = sandbox_factory(rate_limit=20)
    client = client_factory(sandbox, requests_per_second=15, max_concurrency=4)

    def calls() -> None:
        for _ in range(10):
            client.call(PATHS.activity_list, PAGE)

    assert run_in_threads(3, calls) == []
    assert sandbox.stats()["throttled"] == 0
    assert client.stats()["throttled"] == 0


def test_throttled_client_slows_down_and_every_call_succeeds(
    sandbox_factory: Callable[..., SandboxProcess], client_factory: Callable[..., JingClient]
) -> None:
    sandbox = sandbox_factory(rate_limit=10, retry_after=0)
    client = client_factory(sandbox, requests_per_second=200, max_attempts=20, max_concurrency=4)

    def calls() -> None:
        for _ in range(6):
            client.call(PATHS.activity_list, PAGE)

    assert run_in_threads(4, calls) == []
    assert sandbox.stats()["calls"][PATHS.activity_list] >= 24
    throttled = client.stats()["throttled"]
    assert throttled == sandbox.stats()["throttled"]
    # Slowing down keeps this near 15; at a steady 200 a second it is over 150.
    assert 0 < throttled < 60
