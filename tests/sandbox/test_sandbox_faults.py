"""Injected faults: each kind does what it says, at its rate, per path, never on admin."""

from __future__ import annotations

import time
from collections import Counter

import pytest
import requests
from sandbox_api import ACTIVITY_LIST, BATCH, USER_LIST, Api

from jing_sandbox.process import SandboxProcess

PAGE = {"page": 1, "page_size": 5}


def observe(api: Api, path: str = ACTIVITY_LIST, body: dict | None = None) -> str:
    """What a bare client sees from one call, named like the fault kinds."""
    try:
        answer = api.raw(path, PAGE if body is None else body)
    except requests.ConnectionError:
        return "drop"
    except requests.exceptions.ChunkedEncodingError:
        return "malformed"
    if answer.status_code in (500, 502, 503):
        return "http_5xx"
    try:
        code = answer.json()["code"]
    except ValueError:
        return "malformed"
    if answer.status_code == 429 or code == 42900:
        assert answer.headers["Retry-After"] == "1"
        return "throttle"
    return {0: "ok", 50000: "code_50000", 40300: "permission"}.get(code, f"code {code}")


@pytest.mark.parametrize(
    "kind", ["http_5xx", "code_50000", "drop", "drop_after", "malformed", "throttle", "permission"]
)
def test_each_fault_happens_at_its_rate(api: Api, sandbox: SandboxProcess, kind: str) -> None:
    sandbox.faults(**{kind: 0.25})
    seen = Counter(observe(api) for _ in range(200))
    expected = "drop" if kind == "drop_after" else kind
    assert set(seen) == {"ok", expected}
    assert 30 <= seen[expected] <= 70  # 50 expected; the draws are seeded
    assert sandbox.stats()["faults_injected"] == {kind: seen[expected]}


def test_faults_are_per_path_and_never_on_admin_endpoints(
    api: Api, sandbox: SandboxProcess
) -> None:
    sandbox.faults(USER_LIST, http_5xx=1.0)
    assert observe(api, USER_LIST) == "http_5xx"
    assert observe(api) == "ok"
    sandbox.faults(drop=1.0)  # "*": every business path
    assert observe(api) == "drop" and observe(api, USER_LIST) == "drop"
    sandbox.faults(USER_LIST, drop=0.0)  # a path's own rate for a kind wins over "*"
    assert observe(api) == "drop" and observe(api, USER_LIST) == "ok"
    assert sandbox.counts()["activities"] == 5  # admin still answers
    sandbox.faults(USER_LIST)  # clears USER_LIST's own rates: "*" applies again
    assert observe(api, USER_LIST) == "drop"
    sandbox.faults()  # clears all
    assert observe(api) == "ok" and observe(api, USER_LIST) == "ok"


def test_5xx_bodies_are_html_or_empty(api: Api, sandbox: SandboxProcess) -> None:
    sandbox.faults(http_5xx=1.0)
    answers = [api.raw(ACTIVITY_LIST, PAGE) for _ in range(30)]
    assert {a.status_code for a in answers} == {500, 502, 503}
    assert {a.text.startswith("<html>") or a.text == "" for a in answers} == {True}
    assert any(a.text == "" for a in answers)


def test_malformed_bodies_come_in_every_shape(api: Api, sandbox: SandboxProcess) -> None:
    sandbox.faults(malformed=1.0)
    shapes = set()
    for _ in range(40):
        try:
            answer = api.raw(ACTIVITY_LIST, PAGE)
        except requests.exceptions.ChunkedEncodingError:
            shapes.add("cut off")
            continue
        assert answer.status_code == 200
        text = answer.text
        shapes.add("empty" if not text else "html" if text.startswith("<html>") else "truncated")
        if text.startswith("{"):
            with pytest.raises(ValueError):
                answer.json()
    assert shapes == {"empty", "html", "truncated", "cut off"}


def test_slow_answers_wait_slow_seconds(api: Api, sandbox: SandboxProcess) -> None:
    sandbox.faults(ACTIVITY_LIST, slow=1.0, slow_seconds=0.4)
    started = time.monotonic()
    assert observe(api) == "ok"
    assert time.monotonic() - started >= 0.4
    assert sandbox.stats()["faults_injected"] == {"slow": 1}


def test_drop_applies_nothing_but_drop_after_applies_the_update(
    api: Api, sandbox: SandboxProcess
) -> None:
    entity = api.first_activity()
    first, second = (r["omni_user_uuid"] for r in api.registrants(entity)[:2])

    def approve(user: str) -> str:
        body = {"entity_uuid": entity, "user_ids": [user], "ems_approvestatus": "2"}
        return observe(api, BATCH, body)

    def status(user: str) -> str:
        regs = sandbox.registrations(entity)
        return next(r["ems_approvestatus"] for r in regs if r["omni_user_uuid"] == user)

    was = status(first)
    for kind in ("drop", "http_5xx", "code_50000", "throttle", "permission"):
        sandbox.faults(BATCH, **{kind: 1.0})
        assert approve(first) != "ok" and status(first) == was, kind
    sandbox.faults(BATCH, drop_after=1.0)
    assert approve(second) == "drop" and status(second) == "2"
    assert sandbox.stats()["rows_updated"] == 1


def test_fault_flags_apply_from_the_start(sandbox_factory) -> None:
    sb = sandbox_factory(fault_code_50000=1.0)
    api = Api(sb)
    assert observe(api, "/v1/oauth2/token", {}) == "code_50000"
    assert sb.stats()["faults_injected"] == {"code_50000": 1}
