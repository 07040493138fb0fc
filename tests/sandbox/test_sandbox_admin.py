"""The /_sandbox/ endpoints of docs/ARCHITECTURE.md, through SandboxProcess."""

from __future__ import annotations

import pytest
from sandbox_api import ACTIVITY_LIST, ACTIVITY_USERS, BATCH, Api

from jing_sandbox.process import SandboxError, SandboxProcess


def test_stats_count_calls_per_path_and_rows_updated(api: Api, sandbox: SandboxProcess) -> None:
    entity = api.first_activity()
    users = [r["omni_user_uuid"] for r in api.registrants(entity)[:4]]
    api.ok(BATCH, {"entity_uuid": entity, "user_ids": users, "ems_signinstatus": "1"})
    stats = sandbox.stats()
    assert stats["calls"]["/v1/oauth2/token"] == 1
    assert stats["calls"][ACTIVITY_LIST] == 1 and stats["calls"][BATCH] == 1
    assert stats["calls"][ACTIVITY_USERS] >= 1
    assert stats["rows_updated"] == 4 and stats["tokens_issued"] == 1
    assert stats["max_in_flight"] == 1 and stats["throttled"] == 0
    assert stats["faults_injected"] == {}
    for key in ("throttled_http", "throttled_code"):
        assert stats[key] == 0


def test_reset_clears_stats_and_optionally_reseeds(api: Api, sandbox: SandboxProcess) -> None:
    entity = api.first_activity()
    sandbox.register(entity, ["newcomer"])
    assert sandbox.counts()["users"] == 301
    sandbox.reset()
    assert sandbox.stats()["calls"] == {} and sandbox.counts()["users"] == 301
    sandbox.reset(data=True)
    assert sandbox.counts()["users"] == 300


def test_register_creates_users_and_pending_registrations(
    api: Api, sandbox: SandboxProcess
) -> None:
    entity = api.first_activity()
    before = sandbox.counts()
    known = api.registrants(entity)[0]["omni_user_uuid"]
    rows = sandbox.register(entity, ["new-user-1", known])["registrations"]
    assert [r["omni_user_uuid"] for r in rows] == ["new-user-1", known]
    assert rows[0]["ems_approvestatus"] == "0" and rows[0]["ems_signintimestamp"] == ""
    after = sandbox.counts()
    assert after["users"] == before["users"] + 1
    assert after["registrations"] == before["registrations"] + 1
    mine = sandbox.registrations(entity)
    assert len(mine) == len(api.registrants(entity)) and "new-user-1" in {
        r["omni_user_uuid"] for r in mine
    }
    assert len(sandbox.registrations()) == after["registrations"]
    answer = api.post(
        BATCH, {"entity_uuid": entity, "user_ids": ["new-user-1"], "ems_approvestatus": "1"}
    )
    assert answer["data"][0]["ems_approvestatus"] == "1"
    with pytest.raises(SandboxError, match="unknown activity"):
        sandbox.register("nope", ["x"])


def test_config_changes_knobs_and_names_a_bad_one(api: Api, sandbox: SandboxProcess) -> None:
    answer = sandbox.configure(token_ttl=60, retry_after=3)
    assert answer["token_ttl"] == 60 and answer["retry_after"] == 3
    assert api.login()["expires_in"] == 60
    with pytest.raises(SandboxError, match="rate_limits"):
        sandbox.configure(rate_limits=1)
    with pytest.raises(SandboxError, match="max_in_flight"):
        sandbox.configure(max_in_flight="many")
    with pytest.raises(SandboxError, match="no_such_kind"):
        sandbox.faults(no_such_kind=0.5)


def test_tokens_lists_every_token_issued(api: Api, sandbox: SandboxProcess) -> None:
    first = api.access_token
    api.login()
    tokens = sandbox.tokens()
    assert set(tokens["access"]) == {first, api.access_token}
    assert api.refresh_token in tokens["refresh"]
