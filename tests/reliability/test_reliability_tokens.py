"""Tokens ending every few calls while several threads share them: no call fails.

Scenario 4 of the chaos matrix found this: a thread whose call was refused
renews the token and repeats the call once, but with five threads in flight the
renewed token can itself end before the repeat arrives (another thread's renewal,
or the next expiry). That must be retried like any other passing fault.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from jing_client import ClientSettings, JingClient
from jing_sandbox.process import SandboxProcess

LIST = "/v1/activity/list"


def test_tokens_ending_every_two_calls_fail_no_call_of_five_threads(
    sandbox_factory: Any,
) -> None:
    sandbox: SandboxProcess = sandbox_factory(activities=3, users=20, registrations=30)
    sandbox.configure(expire_token_every=2)
    settings = ClientSettings.from_config(
        sandbox.config(
            max_concurrency=5,
            requests_per_second=1000,
            backoff_base_seconds=0.01,
            backoff_max_seconds=0.05,
            max_attempts=30,
        )
    )
    with JingClient(settings) as client, ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(lambda _: client.call(LIST, {"page": 1}).code, range(300)))
        stats = client.stats()
    assert answers == [0] * 300
    assert stats["token_refreshes"] + stats["token_fetches"] > 20
