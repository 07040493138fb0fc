"""A sandbox that stops while requests are in flight never answers "applied" for a lost change.

Scenario 10 of the chaos matrix found it: the --db file was written for the last
time while handler threads still applied updates and answered code 0, so after
the restart JING "forgot" rows the ledger had rightly recorded as applied.
"""

from __future__ import annotations

import json
from pathlib import Path

from jing_sandbox import api
from jing_sandbox.app import Sandbox
from jing_sandbox.settings import SandboxSettings
from jing_sandbox.store import Store


def test_an_update_after_the_last_save_is_refused_as_503_and_not_kept(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.json"
    sandbox = Sandbox(SandboxSettings(db=db, activities=2, users=10, registrations=10))
    reg = sandbox.store.all_registrations()[0]
    pair = sandbox.tokens.issue(sandbox.settings.app_id, 60, 60)
    headers = {"app_id": sandbox.settings.app_id, "access_token": str(pair["access_token"])}
    sandbox.store.close()  # what the server does on its way out, requests still in flight
    body = {
        "entity_uuid": reg["target_entity_uuid"],
        "user_ids": [reg["omni_user_uuid"]],
        "ems_approvestatus": "2" if reg["ems_approvestatus"] != "2" else "1",
    }
    app = sandbox.settings.app_id
    in_flight = sandbox.limits.enter(app)
    reply = sandbox.business(
        api.BATCH_UPDATE_PATH, headers, json.dumps(body).encode(), app, in_flight
    )
    assert reply.status == 503
    saved = Store.read_file(db).registrations
    held = next(r for r in saved if r["jing_uuid"] == reg["jing_uuid"])
    assert held["ems_approvestatus"] == reg["ems_approvestatus"]
