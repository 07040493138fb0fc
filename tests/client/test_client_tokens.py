"""The token lifecycle against the sandbox: get, share, refresh, expire, new pair."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from client_helpers import answers, path_calls, run_in_threads

from jing_client import JingAuthError, JingClient, JingMalformedResponse
from jing_client.settings import Paths
from jing_client.tokens import _read_tokens
from jing_sandbox.process import SandboxProcess

PATHS = Paths()
PAGE = {"page": 1, "page_size": 2}


def _list(client: JingClient) -> None:
    assert client.call(PATHS.activity_list, PAGE).code == 0


def test_token_expired_mid_run_is_refreshed_and_the_call_repeated(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    client = client_factory(sandbox)
    _list(client)
    sandbox.expire_tokens(access=True)
    _list(client)
    _list(client)
    assert answers(sandbox, 40003) == 1
    assert path_calls(sandbox, PATHS.token_refresh) == 1
    assert client.stats()["token_fetches"] == 1
    assert client.stats()["token_refreshes"] == 1
    assert client.stats()["retries"] == 0  # the token round does not use a backoff attempt


def test_token_is_refreshed_a_margin_before_it_expires(
    sandbox_factory: Callable[..., SandboxProcess], client_factory: Callable[..., JingClient]
) -> None:
    sandbox = sandbox_factory(token_ttl=2)
    client = client_factory(sandbox, token_refresh_margin_seconds=300)
    _list(client)
    time.sleep(1.2)  # past the margin (capped at half of expires_in), before the expiry
    _list(client)
    assert client.stats()["token_refreshes"] == 1
    assert answers(sandbox, 40003) == 0


def test_expired_refresh_token_leads_to_a_new_pair(
    sandbox_factory: Callable[..., SandboxProcess], client_factory: Callable[..., JingClient]
) -> None:
    sandbox = sandbox_factory(token_ttl=2, refresh_ttl=1)
    client = client_factory(sandbox)
    _list(client)
    time.sleep(1.2)  # the access token is due for renewal, the refresh token has expired
    _list(client)
    assert answers(sandbox, 40004) == 1
    assert client.stats()["token_fetches"] == 2
    assert client.stats()["token_refreshes"] == 0


def test_refused_refresh_token_after_expire_all_leads_to_a_new_pair(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    client = client_factory(sandbox)
    _list(client)
    sandbox.expire_tokens(access=True, refresh=True)
    _list(client)
    assert answers(sandbox, 40003) == 1
    assert answers(sandbox, 40004) == 1
    assert client.stats()["token_fetches"] == 2


def test_refresh_token_older_than_its_ttl_is_not_tried(
    sandbox_factory: Callable[..., SandboxProcess], client_factory: Callable[..., JingClient]
) -> None:
    sandbox = sandbox_factory(token_ttl=2)
    client = client_factory(sandbox, refresh_token_ttl_seconds=1)
    _list(client)
    time.sleep(1.2)
    _list(client)
    assert path_calls(sandbox, PATHS.token_refresh) == 0
    assert client.stats()["token_fetches"] == 2


def test_tokens_expiring_every_few_calls_never_fail_a_call(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    sandbox.configure(expire_token_every=4)
    client = client_factory(sandbox)
    for _ in range(20):
        _list(client)
    assert answers(sandbox, 40003) >= 4
    assert client.stats()["token_refreshes"] >= 4


def test_concurrent_senders_share_one_token_and_one_refresh(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    client = client_factory(sandbox, max_concurrency=5)
    assert run_in_threads(10, lambda: _list(client)) == []
    assert sandbox.stats()["tokens_issued"] == 1
    sandbox.expire_tokens(access=True)
    assert run_in_threads(10, lambda: _list(client)) == []
    assert client.stats()["token_fetches"] == 1
    assert client.stats()["token_refreshes"] == 1


def _wait_for_token_calls(sandbox: SandboxProcess, count: int) -> None:
    deadline = time.monotonic() + 10
    while path_calls(sandbox, PATHS.token) < count:
        assert time.monotonic() < deadline, "the token was not asked for"
        time.sleep(0.01)


def test_a_token_fetched_ahead_serves_the_first_calls(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    client = client_factory(sandbox, max_concurrency=5)
    client.fetch_token_ahead()
    _wait_for_token_calls(sandbox, 1)  # asked for before any call
    assert run_in_threads(5, lambda: _list(client)) == []
    client.fetch_token_ahead()  # a token is held: nothing more is asked
    _list(client)
    assert sandbox.stats()["tokens_issued"] == 1
    assert client.stats()["token_fetches"] == 1


def test_a_failed_fetch_ahead_is_the_first_calls_first_failed_attempt(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    """The call raises what stopped the fetch as its own attempt's failure: its retry
    policy retries it once, so fetching ahead adds no attempt to what a call makes."""
    sandbox.faults(path=PATHS.token, http_5xx=1.0)
    client = client_factory(sandbox)
    client.fetch_token_ahead()
    _wait_for_token_calls(sandbox, 1)
    sandbox.faults()
    _list(client)
    assert client.stats()["retries"] == 1
    assert path_calls(sandbox, PATHS.token) == 2
    assert client.stats()["token_fetches"] == 1


def test_credentials_refused_ahead_are_refused_to_the_first_call_once(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    client = client_factory(sandbox, app_secret="0" * 32)
    client.fetch_token_ahead()
    _wait_for_token_calls(sandbox, 1)
    with pytest.raises(JingAuthError):
        _list(client)
    assert path_calls(sandbox, PATHS.token) == 1, "not asked again: the call took the refusal"
    assert path_calls(sandbox, PATHS.activity_list) == 0


@pytest.mark.parametrize("access", ["", "a\r\nX-Evil: 1", "tab\there", "caf\u00e9", 7, None])
def test_an_access_token_that_cannot_be_sent_in_a_header_is_a_malformed_answer(
    access: object,
) -> None:
    """A token a header cannot carry would fail every call with it; the token answer is
    refused instead, as malformed, and the message names the fields, not the value."""
    data = {"access_token": access, "refresh_token": "r", "expires_in": 7200}
    with pytest.raises(JingMalformedResponse, match="not printable ASCII") as error:
        _read_tokens(data, PATHS.token)
    assert not isinstance(access, str) or not access or access not in str(error.value)


def test_a_printable_access_token_is_read() -> None:
    data = {"access_token": "8c2f-1 b", "refresh_token": "r", "expires_in": "60"}
    assert _read_tokens(data, PATHS.token) == ("8c2f-1 b", "r", 60.0)
