"""What the sandbox should hold after a write-back, computed from the transform's output."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

#: The API's zone [jing-api.md 5]: target-jing sends times as local text in it.
API_ZONE = ZoneInfo("Asia/Shanghai")
UPDATE_PATH = "/v1/activity/update/userStatus/batch"

Statuses = dict[tuple[str, str], dict[str, str]]


def statuses(registrations: list[dict[str, Any]]) -> Statuses:
    """(activity, user) -> the status fields, from the sandbox's registration list."""
    fields = ("ems_approvestatus", "ems_signinstatus", "ems_signintimestamp")
    return {
        (r["target_entity_uuid"], r["omni_user_uuid"]): {f: r.get(f) or "" for f in fields}
        for r in registrations
    }


def expected_statuses(before: Statuses, warehouse: Path) -> Statuses:
    """The statuses before the write-back, overlaid with what the transform decided."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        decided = con.execute(
            "SELECT entity_uuid, omni_user_uuid, ems_approvestatus, ems_signinstatus, "
            "ems_signintimestamp FROM decide.registrant_status"
        ).fetchall()
    expected = {key: dict(value) for key, value in before.items()}
    for activity, user, approve, signin, signin_time in decided:
        row = expected[(activity, user)]
        if approve is not None:
            row["ems_approvestatus"] = approve
        if signin is not None:
            row["ems_signinstatus"] = signin
        if signin_time is not None:
            row["ems_signintimestamp"] = signin_time.astimezone(API_ZONE).strftime(
                "%Y-%m-%d %H:%M:%S"
            )
    return expected
