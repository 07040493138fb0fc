"""`--answer-style` and `--latency-ms`: the batch update answers as each variant says."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from sandbox_api import BATCH, Api

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
