"""Sections 1, 4, 6.1-6.3 and 7: envelope, pagination, filters, detail, unknown paths."""

from __future__ import annotations

import re

import pytest
from sandbox_api import (
    ACTIVITY_DETAIL,
    ACTIVITY_LIST,
    ACTIVITY_USERS,
    BATCH,
    USER_LIST,
    Api,
)

from jing_sandbox.process import SandboxProcess

TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def test_activities_page_with_100_and_reject_101(sandbox_factory) -> None:
    api = Api(sandbox_factory(activities=120, users=50, registrations=200))
    api.login()
    first = api.ok(ACTIVITY_LIST, {"page": 1, "page_size": 100})
    assert (first["total"], first["page"], first["page_size"]) == (120, 1, 100)
    assert len(first["list"]) == 100
    second = api.ok(ACTIVITY_LIST, {"page": 2, "page_size": 100})
    assert len(second["list"]) == 20
    ids = [a["entity_uuid"] for a in first["list"] + second["list"]]
    assert len(set(ids)) == 120
    answer = api.post(ACTIVITY_LIST, {"page": 1, "page_size": 101})
    assert answer["code"] == 40010 and "page_size" in answer["msg"]
    assert api.ok(ACTIVITY_LIST, {"page": 3, "page_size": 100})["list"] == []


@pytest.mark.parametrize("bad", [{"page": 0}, {"page_size": 0}, {"page": "1"}, {"page_size": 1.5}])
def test_bad_page_parameters_give_40010(api: Api, bad: dict) -> None:
    answer = api.post(ACTIVITY_LIST, {"page": 1, "page_size": 10, **bad})
    assert answer["code"] == 40010 and next(iter(bad)) in answer["msg"]


def test_activity_items_have_the_contract_fields(api: Api) -> None:
    items = api.ok(ACTIVITY_LIST, {"page": 1, "page_size": 100})["list"]
    for item in items:
        assert re.fullmatch(r"[2-9A-HJ-NP-Za-km-z]{22}", item["entity_uuid"])
        assert item["activity_type"] in ("online", "offline")
        assert item["status"] in ("draft", "published", "ended", "cancelled")
        for name in ("start_time", "end_time", "created_time", "updated_time"):
            assert TIME.fullmatch(item[name])
        assert item["capacity"] is None or isinstance(item["capacity"], int)
        assert isinstance(item["registration_count"], int) and "description" not in item
    detail = api.ok(ACTIVITY_DETAIL, {"entity_uuid": items[0]["entity_uuid"]})
    assert {k: detail[k] for k in items[0]} == items[0]
    assert detail["description"] and detail["form_fields"][0].keys() == {
        "field_code",
        "label",
        "required",
    }
    assert api.post(ACTIVITY_DETAIL, {"entity_uuid": "x" * 22})["code"] == 40400


def test_lists_are_sorted_and_time_filters_are_inclusive(api: Api) -> None:
    users = api.all_pages(USER_LIST, {})
    assert len(users) == 300
    keys = [(u["updated_time"], u["omni_user_uuid"]) for u in users]
    assert keys == sorted(keys)
    start, end = users[100]["updated_time"], users[199]["updated_time"]
    window = api.all_pages(USER_LIST, {"updated_start": start, "updated_end": end})
    expected = [u for u in users if start <= u["updated_time"] <= end]
    assert window == expected and window[0]["updated_time"] == start
    assert window[-1]["updated_time"] == end
    total = api.ok(USER_LIST, {"updated_start": start, "page_size": 1})["total"]
    assert total == len([u for u in users if u["updated_time"] >= start])
    answer = api.post(USER_LIST, {"updated_start": "2025-01-01T00:00:00"})
    assert answer["code"] == 40010 and "updated_start" in answer["msg"]


def test_users_have_identities_and_fields(sandbox_factory) -> None:
    api = Api(sandbox_factory(activities=1, users=1000, registrations=10))
    api.login()
    users = api.all_pages(USER_LIST, {})
    with_mobile = [u for u in users if any(i["type"] == "mobile" for i in u["identities"])]
    assert 0.6 < len(with_mobile) / len(users) < 0.8
    assert any(i["type"] == "email" for u in users for i in u["identities"])
    for user in users:
        assert len(user["omni_user_uuid"]) == 22 and isinstance(user["fields"], dict)
        assert all(i.keys() == {"type", "value", "name"} for i in user["identities"])


def test_registered_user_list(api: Api, sandbox: SandboxProcess) -> None:
    entity = api.first_activity()
    regs = api.all_pages(ACTIVITY_USERS, {"entity_uuid": entity})
    assert len(regs) == len(sandbox.registrations(entity)) > 0
    assert len({r["omni_user_uuid"] for r in regs}) == len(regs)
    for reg in regs:
        assert reg["target_entity_uuid"] == entity
        assert reg["ems_approvestatus"] in ("0", "1", "2")
        assert reg["ems_signinstatus"] in ("0", "1")
        for name in ("ems_approvetimestamp", "ems_signintimestamp"):
            assert reg[name] == "" or TIME.fullmatch(reg[name])
        assert (reg["ems_signinstatus"] == "1") == (reg["ems_signintimestamp"] != "")
    unknown = api.post(ACTIVITY_USERS, {"entity_uuid": "nope", "page": 1, "page_size": 10})
    assert unknown["code"] == 40400


def test_unknown_paths_methods_and_bodies(api: Api, sandbox: SandboxProcess) -> None:
    answer = api.raw("/v1/nothing/here", {})
    assert answer.status_code == 404 and answer.json()["code"] == 40400
    got = api.session.get(sandbox.url + ACTIVITY_LIST, timeout=10)
    assert got.status_code == 404 and got.json()["code"] == 40400
    headers = {"app_id": sandbox.app_id, "access_token": api.access_token}
    garbage = api.session.post(sandbox.url + ACTIVITY_LIST, data=b"{nope", headers=headers)
    assert garbage.json()["code"] == 40010
    assert "message" in api.post(BATCH, {})  # only the batch endpoint carries `message`
    assert "message" not in api.post(ACTIVITY_LIST, {})
