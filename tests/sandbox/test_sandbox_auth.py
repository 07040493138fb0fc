"""Section 2: token, refresh and their error codes; the token TTL knobs."""

from __future__ import annotations

import re
import time

import requests
from sandbox_api import ACTIVITY_LIST, REFRESH, TOKEN, Api

from jing_sandbox.process import SandboxProcess

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PAGE = {"page": 1, "page_size": 1}


def test_a_client_with_only_the_api_doc_gets_a_token(sandbox: SandboxProcess) -> None:
    body = {"app_id": sandbox.app_id, "app_secret": sandbox.app_secret}
    answer = requests.post(sandbox.url + TOKEN, json=body, timeout=10)
    assert answer.status_code == 200
    doc = answer.json()
    assert doc["code"] == 0 and doc["msg"] == "success"
    assert re.fullmatch(r"[0-9a-f]{32}", doc["request_id"])
    assert abs(doc["timestamp"] - time.time() * 1000) < 60_000
    data = doc["data"]
    assert UUID.fullmatch(data["access_token"]) and UUID.fullmatch(data["refresh_token"])
    assert data["scope"] == "all" and data["token_type"] == "bearer"
    assert data["expires_in"] == 7200
    headers = {"app_id": sandbox.app_id, "access_token": data["access_token"]}
    listed = requests.post(sandbox.url + ACTIVITY_LIST, json=PAGE, headers=headers, timeout=10)
    assert listed.json()["code"] == 0


def test_wrong_credentials_give_40001_without_echoing_the_secret(sandbox: SandboxProcess) -> None:
    api = Api(sandbox)
    wrong_secret = "f" * 32
    for body in (
        {"app_id": sandbox.app_id, "app_secret": wrong_secret},
        {"app_id": "999", "app_secret": sandbox.app_secret},
        {},
    ):
        answer = api.raw(TOKEN, body)
        assert answer.json()["code"] == 40001
        assert wrong_secret not in answer.text and sandbox.app_secret not in answer.text


def test_missing_unknown_and_expired_access_tokens(api: Api, sandbox: SandboxProcess) -> None:
    token = api.access_token
    api.access_token = ""
    assert api.post(ACTIVITY_LIST, PAGE)["code"] == 40002
    api.access_token = "00000000-0000-0000-0000-000000000000"
    assert api.post(ACTIVITY_LIST, PAGE)["code"] == 40002
    api.access_token = token
    assert api.post(ACTIVITY_LIST, PAGE)["code"] == 0
    sandbox.expire_tokens()
    assert api.post(ACTIVITY_LIST, PAGE)["code"] == 40003


def test_refresh_gives_a_working_token_and_rejects_bad_refresh_tokens(
    api: Api, sandbox: SandboxProcess
) -> None:
    sandbox.expire_tokens(access=True)
    creds = {"app_id": sandbox.app_id, "app_secret": sandbox.app_secret}
    fresh = api.ok(REFRESH, {**creds, "refresh_token": api.refresh_token})
    assert fresh["access_token"] != api.access_token and fresh["expires_in"] == 7200
    api.access_token = fresh["access_token"]
    assert api.post(ACTIVITY_LIST, PAGE)["code"] == 0
    assert api.post(REFRESH, {**creds, "refresh_token": "nope"})["code"] == 40004
    assert api.post(REFRESH, {**creds, "app_secret": "x", "refresh_token": "y"})["code"] == 40001
    sandbox.expire_tokens(access=False, refresh=True)
    assert api.post(REFRESH, {**creds, "refresh_token": api.refresh_token})["code"] == 40004
    assert api.post(ACTIVITY_LIST, PAGE)["code"] == 0  # the access token still lives


def test_a_new_token_ends_the_old_refresh_token(api: Api, sandbox: SandboxProcess) -> None:
    old_refresh = api.refresh_token
    api.login()
    creds = {"app_id": sandbox.app_id, "app_secret": sandbox.app_secret}
    assert api.post(REFRESH, {**creds, "refresh_token": old_refresh})["code"] == 40004
    assert api.post(REFRESH, {**creds, "refresh_token": api.refresh_token})["code"] == 0


def test_token_ttls_are_flags(sandbox_factory) -> None:
    sb = sandbox_factory(token_ttl=1, refresh_ttl=1)
    api = Api(sb)
    assert api.login()["expires_in"] == 1
    assert api.post(ACTIVITY_LIST, PAGE)["code"] == 0
    time.sleep(1.2)
    assert api.post(ACTIVITY_LIST, PAGE)["code"] == 40003
    creds = {"app_id": sb.app_id, "app_secret": sb.app_secret}
    assert api.post(REFRESH, {**creds, "refresh_token": api.refresh_token})["code"] == 40004


def test_expire_token_every_n_calls(api: Api, sandbox: SandboxProcess) -> None:
    sandbox.configure(expire_token_every=3)
    codes = [api.post(ACTIVITY_LIST, PAGE)["code"] for _ in range(3)]
    assert codes == [0, 0, 0]
    assert api.post(ACTIVITY_LIST, PAGE)["code"] == 40003
    api.login()
    assert [api.post(ACTIVITY_LIST, PAGE)["code"] for _ in range(4)] == [0, 0, 0, 40003]
    assert sandbox.stats()["tokens_issued"] == 2
