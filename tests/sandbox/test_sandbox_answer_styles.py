"""`--answer-style` and `--latency-ms`: the batch update answers as each variant says."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sandbox_api import ACTIVITY_LIST, BATCH, Api

from jing_sandbox.process import SandboxProcess


def _update(sandbox_factory: Callable[..., SandboxProcess], **flags: Any) -> tuple[Any, Api]:
    sandbox = sandbox_factory(**flags)
    api = Api(sandbox)
    api.login()
    entity = api.first_activity()
    users = [r["omni_user_uuid"] for r in api.registrants(entity)[:2]]
    body = {
        "entity_uuid": entity,
        "user_ids": [*users, "not_registered"],
        "ems_approvestatus": "2",
        "ems_signinstatus": "1",
        "ems_signintimestamp": "2025-03-01 10:00:05",
    }
    response = api.raw(BATCH, body)
    back = {r["omni_user_uuid"]: r for r in api.registrants(entity)}
    assert all(back[u]["ems_approvestatus"] == "2" for u in users), "the update took effect"
    return response, api


@pytest.mark.parametrize(
    ("style", "check"),
    [
        ("int_statuses", lambda d: d[0]["ems_approvestatus"] == 2),
        ("time_t", lambda d: d[0]["ems_signintimestamp"] == "2025-03-01T10:00:05"),
        ("time_offset", lambda d: d[0]["ems_signintimestamp"] == "2025-03-01T10:00:05+08:00"),
        ("time_minutes", lambda d: d[0]["ems_signintimestamp"] == "2025-03-01 10:00"),
        (
            "success_failure",
            lambda d: (
                len(d["success"]) == 2 and d["failure"][0]["omni_user_uuid"] == "not_registered"
            ),
        ),
        ("data_null", lambda d: d is None),
    ],
)
def test_each_style_shapes_the_answer(
    style: str, check: Callable[[Any], bool], sandbox_factory: Callable[..., SandboxProcess]
) -> None:
    response, _ = _update(sandbox_factory, answer_style=style)
    document = response.json()
    assert document["code"] == 0 and check(document["data"])


def test_data_missing_and_non_json(sandbox_factory: Callable[..., SandboxProcess]) -> None:
    response, _ = _update(sandbox_factory, answer_style="data_missing")
    assert response.json()["code"] == 0 and "data" not in response.json()
    response, _ = _update(sandbox_factory, answer_style="non_json")
    assert response.status_code == 200 and response.text.startswith("<html>")


def test_latency_delays_every_answer_and_is_no_fault(
    sandbox_factory: Callable[..., SandboxProcess],
) -> None:
    sandbox = sandbox_factory(latency_ms=150)
    api = Api(sandbox)
    started = time.monotonic()
    api.login()
    assert time.monotonic() - started >= 0.15
    assert sandbox.stats()["faults_injected"] in (
        {},
        {k: 0 for k in sandbox.stats()["faults_injected"]},
    )


def test_latency_delays_answers_side_by_side_and_can_change_while_serving(
    sandbox_factory: Callable[..., SandboxProcess],
) -> None:
    """Five calls at once at 200 ms take about 200 ms, not a second: a network's delay."""
    sandbox = sandbox_factory(latency_ms=0)
    sandbox.configure(latency_ms=200)
    api = Api(sandbox)
    api.login()

    def one(_: int) -> float:
        session = Api(sandbox)
        session.access_token = api.access_token
        started = time.monotonic()
        session.ok(ACTIVITY_LIST, {"page": 1, "page_size": 1})
        return time.monotonic() - started

    started = time.monotonic()
    with ThreadPoolExecutor(5) as pool:
        each = list(pool.map(one, range(5)))
    assert min(each) >= 0.2
    assert time.monotonic() - started < 0.9, "one after another they would take 1 s"
    sandbox.configure(latency_ms=0)
    assert min(one(0) for _ in range(3)) < 0.15  # the best of 3: a busy machine is slow once
