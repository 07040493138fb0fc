"""Paging per jing-api.md section 4, and the batch-update example of section 6.4, on the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from client_helpers import path_calls

from jing_client import JingBadRequest
from jing_client.client import JingClient
from jing_client.settings import Paths
from jing_sandbox.process import SandboxProcess

PATHS = Paths()
# The request example of the published batch-update page
# (seed/batch-update-activity-user-status.txt beside jing-api.md), without its ids.
DOC_EXAMPLE = {
    "ems_signinstatus": "0",
    "ems_approvestatus": "2",
    "ems_approvetimestamp": "2022-12-16 16:00:00",
    "ems_signintimestamp": "2022-12-16 16:00:00",
}


def _all_items(client: JingClient, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for page in client.iter_pages(path, body) for item in page.items]


def test_pages_stop_at_total_without_asking_past_it(
    sandbox_factory: Callable[..., SandboxProcess], client_factory: Callable[..., JingClient]
) -> None:
    sandbox = sandbox_factory(activities=21)
    client = client_factory(sandbox)
    pages = list(client.iter_pages(PATHS.activity_list, {}, page_size=7))
    assert [(p.page, len(p.items), p.total) for p in pages] == [(1, 7, 21), (2, 7, 21), (3, 7, 21)]
    ids = [item["entity_uuid"] for p in pages for item in p.items]
    assert len(set(ids)) == 21
    assert path_calls(sandbox, PATHS.activity_list) == 3  # no fourth, empty page


def test_a_short_page_ends_the_listing(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    client = client_factory(sandbox)
    pages = list(client.iter_pages(PATHS.activity_list, {}, page_size=2))
    assert [len(p.items) for p in pages] == [2, 2, 1]
    assert path_calls(sandbox, PATHS.activity_list) == 3


def test_an_empty_page_ends_the_listing(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    client = client_factory(sandbox)
    pages = list(client.iter_pages(PATHS.user_list, {"updated_start": "2099-01-01 00:00:00"}))
    assert [(p.items, p.total) for p in pages] == [([], 0)]


def test_page_size_is_capped_by_the_setting(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    client = client_factory(sandbox)
    pages = list(client.iter_pages(PATHS.user_list, {}, page_size=500))  # the API refuses 101
    assert {p.page_size for p in pages} == {100}
    assert sum(len(p.items) for p in pages) == pages[0].total == 300
    small = client_factory(sandbox, page_size_limit=40)
    assert {p.page_size for p in small.iter_pages(PATHS.activity_list, {})} == {40}


def test_batch_update_example_from_the_docs_then_read_back(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    client = client_factory(sandbox)
    activities = [a for a in _all_items(client, PATHS.activity_list, {}) if a["registration_count"]]
    activity = min(activities, key=lambda a: a["registration_count"])  # leaves users unregistered
    entity_uuid = activity["entity_uuid"]
    registered = _all_items(client, PATHS.activity_user_list, {"entity_uuid": entity_uuid})
    target = next(
        r for r in registered if (r["ems_signinstatus"], r["ems_approvestatus"]) != ("0", "2")
    )
    registered_ids = {r["omni_user_uuid"] for r in registered}
    stranger = next(
        u["omni_user_uuid"]
        for u in _all_items(client, PATHS.user_list, {})
        if u["omni_user_uuid"] not in registered_ids
    )

    envelope = client.update_user_status(
        entity_uuid, [target["omni_user_uuid"], stranger], DOC_EXAMPLE
    )

    assert (envelope.code, envelope.msg) == (0, "success")
    assert [row["omni_user_uuid"] for row in envelope.data] == [target["omni_user_uuid"]]
    echoed = envelope.data[0]
    assert echoed["target_entity_uuid"] == entity_uuid
    assert echoed["jing_uuid"] == target["jing_uuid"]
    assert {k: echoed[k] for k in DOC_EXAMPLE} == DOC_EXAMPLE
    # Read back, also through an incremental listing from the row's old update time.
    since = {"entity_uuid": entity_uuid, "updated_start": target["updated_time"]}
    for body in ({"entity_uuid": entity_uuid}, since):
        rows = [
            r
            for r in _all_items(client, PATHS.activity_user_list, body)
            if r["omni_user_uuid"] == target["omni_user_uuid"]
        ]
        assert len(rows) == 1
        assert {k: rows[0][k] for k in DOC_EXAMPLE} == DOC_EXAMPLE
        assert rows[0]["updated_time"] >= target["updated_time"]


def test_batch_over_the_limit_is_refused_before_sending(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    client = client_factory(sandbox)
    activity = client.call(PATHS.activity_list, {"page": 1, "page_size": 1}).data["list"][0]
    user_ids = [f"user{i:04d}" for i in range(101)]
    with pytest.raises(JingBadRequest) as caught:
        client.update_user_status(activity["entity_uuid"], user_ids, {"ems_signinstatus": "1"})
    assert "'batch_size_limit'" in str(caught.value)
    assert path_calls(sandbox, PATHS.user_status_batch) == 0
    # With the client's limit raised, the API's own limit answers 40013.
    roomy = client_factory(sandbox, batch_size_limit=200)
    with pytest.raises(JingBadRequest) as caught:
        roomy.update_user_status(activity["entity_uuid"], user_ids, {"ems_signinstatus": "1"})
    assert caught.value.code == 40013
