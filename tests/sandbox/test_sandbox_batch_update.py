"""Section 6.4: the batch update, exactly as the doc's example and our contract say."""

from __future__ import annotations

import pytest
from sandbox_api import ACTIVITY_USERS, BATCH, Api

from jing_sandbox.process import SandboxProcess

ECHO = {
    "target_entity_uuid",
    "jing_uuid",
    "omni_user_uuid",
    "ems_approvestatus",
    "ems_approvetimestamp",
    "ems_signinstatus",
    "ems_signintimestamp",
}


def test_the_doc_example_on_seeded_ids_reads_back(api: Api, sandbox: SandboxProcess) -> None:
    entity = api.first_activity()
    users = [r["omni_user_uuid"] for r in api.registrants(entity)[:3]]
    body = {
        "entity_uuid": entity,
        "user_ids": users,
        "ems_signinstatus": "0",
        "ems_approvestatus": "2",
        "ems_approvetimestamp": "2022-12-16 16:00:00",
        "ems_signintimestamp": "2022-12-16 16:00:00",
    }
    answer = api.post(BATCH, body)
    assert answer["code"] == 0 and answer["msg"] == answer["message"] == "success"
    assert [item["omni_user_uuid"] for item in answer["data"]] == users
    for item in answer["data"]:
        assert item.keys() == ECHO and item["target_entity_uuid"] == entity
        assert item["ems_approvestatus"] == "2" and item["ems_signinstatus"] == "0"
        assert item["ems_approvetimestamp"] == "2022-12-16 16:00:00"
    back = {r["omni_user_uuid"]: r for r in api.registrants(entity)}
    for user in users:
        assert back[user]["ems_approvestatus"] == "2"
        assert back[user]["ems_signintimestamp"] == "2022-12-16 16:00:00"
    assert sandbox.stats()["rows_updated"] == 3


def test_unregistered_users_are_absent_and_left_out_fields_unchanged(api: Api) -> None:
    entity = api.first_activity()
    before = api.registrants(entity)[0]
    user = before["omni_user_uuid"]
    answer = api.post(
        BATCH, {"entity_uuid": entity, "user_ids": [user, "nobody"], "ems_signinstatus": "1"}
    )
    assert answer["code"] == 0
    assert [item["omni_user_uuid"] for item in answer["data"]] == [user]
    after = answer["data"][0]
    assert after["ems_signinstatus"] == "1"
    for name in ("ems_approvestatus", "ems_approvetimestamp", "ems_signintimestamp", "jing_uuid"):
        assert after[name] == before[name]
    none = api.post(BATCH, {"entity_uuid": entity, "user_ids": ["nobody"], "ems_signinstatus": "1"})
    assert none["code"] == 0 and none["data"] == []


def test_an_update_is_seen_by_incremental_extraction(api: Api) -> None:
    entity = api.first_activity()
    regs = api.registrants(entity)
    bookmark = max(r["updated_time"] for r in regs)
    user = regs[0]["omni_user_uuid"]
    api.ok(BATCH, {"entity_uuid": entity, "user_ids": [user], "ems_approvestatus": "1"})
    changed = api.ok(
        ACTIVITY_USERS,
        {"entity_uuid": entity, "page": 1, "page_size": 100, "updated_start": bookmark},
    )["list"]
    assert user in [r["omni_user_uuid"] for r in changed]
    assert changed[-1]["omni_user_uuid"] == user and changed[-1]["updated_time"] > bookmark


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ems_signinstatus", "2"),
        ("ems_signinstatus", 1),
        ("ems_approvestatus", "3"),
        ("ems_approvestatus", ""),
        ("ems_approvetimestamp", "2022-12-16T16:00:00"),
        ("ems_signintimestamp", "2022-02-30 10:00:00"),
        ("ems_signintimestamp", ""),
    ],
)
def test_bad_values_give_40010_naming_the_field(api: Api, field: str, value: object) -> None:
    entity = api.first_activity()
    before = api.registrants(entity)[0]
    body = {"entity_uuid": entity, "user_ids": [before["omni_user_uuid"]], field: value}
    if field != "ems_approvestatus":
        body["ems_approvestatus"] = "1" if before["ems_approvestatus"] != "1" else "2"
    answer = api.post(BATCH, body)
    assert answer["code"] == 40010 and field in answer["msg"] and answer["data"] is None
    assert api.registrants(entity)[0] == before  # nothing applied


def test_batch_size_and_ids_are_checked(api: Api) -> None:
    entity = api.first_activity()
    many = [f"user{i}" for i in range(101)]
    too_many = api.post(BATCH, {"entity_uuid": entity, "user_ids": many, "ems_signinstatus": "1"})
    assert too_many["code"] == 40013
    exactly = api.post(
        BATCH, {"entity_uuid": entity, "user_ids": many[:100], "ems_signinstatus": "1"}
    )
    assert exactly["code"] == 0
    empty = api.post(BATCH, {"entity_uuid": entity, "user_ids": [], "ems_signinstatus": "1"})
    assert empty["code"] == 40010 and "user_ids" in empty["msg"]
    unknown = api.post(BATCH, {"entity_uuid": "nope", "user_ids": ["a"], "ems_signinstatus": "1"})
    assert unknown["code"] == 40400
    bad_id = api.post(BATCH, {"entity_uuid": entity, "user_ids": ["ok", "not ok!"]})
    assert bad_id["code"] == 40010 and "user_ids[1]" in bad_id["msg"]
