"""What a write-back scenario asks for, and how to tell whether JING ended up holding it.

The wanted rows are derived from the sandbox's own registrations, so each one can
be applied; the fewest calls they need and the final state they imply are
computed here from the rows themselves, never taken from the engine under test.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

TABLE = "decisions"
SOURCE = f"duckdb:{TABLE}"
#: A naive warehouse time (read as UTC) and what the API must hold (Asia/Shanghai).
SIGNIN_AT = pd.Timestamp("2025-10-01 08:00:00")
SIGNIN_AT_API = "2025-10-01 16:00:00"
STATUS_FIELDS = ("ems_approvestatus", "ems_signinstatus", "ems_signintimestamp")
BATCH_SIZE = 100

Key = tuple[str, str]


@dataclass(frozen=True)
class Wanted:
    """One input row: the registration and the values it asks JING to hold."""

    activity_id: str
    user_id: str
    approve_status: str
    signin_status: str
    signed_in_at: pd.Timestamp | None

    @property
    def key(self) -> Key:
        return (self.activity_id, self.user_id)

    def api_fields(self) -> dict[str, str]:
        """The values JING must hold afterwards (an empty time is not sent, so not set)."""
        fields = {"ems_approvestatus": self.approve_status, "ems_signinstatus": self.signin_status}
        if self.signed_in_at is not None:
            fields["ems_signintimestamp"] = SIGNIN_AT_API
        return fields


def wanted_rows(keys: Iterable[Key]) -> list[Wanted]:
    """Two approval values times signed in or not: four groups of values per activity."""
    rows = []
    for i, (activity_id, user_id) in enumerate(keys):
        signed_in = i % 3 == 0
        rows.append(
            Wanted(
                activity_id=activity_id,
                user_id=user_id,
                approve_status="1" if i % 2 == 0 else "2",
                signin_status="1" if signed_in else "0",
                signed_in_at=SIGNIN_AT if signed_in else None,
            )
        )
    return rows


def registration_keys(registrations: Iterable[Mapping[str, Any]]) -> list[Key]:
    return [(r["target_entity_uuid"], r["omni_user_uuid"]) for r in registrations]


def minimum_calls(rows: Iterable[Wanted], batch_size: int = BATCH_SIZE) -> int:
    """One call sets the same values for up to `batch_size` users of one activity."""
    groups = Counter(
        (r.activity_id, r.approve_status, r.signin_status, r.signed_in_at) for r in rows
    )
    return sum(math.ceil(n / batch_size) for n in groups.values())


def write_warehouse(path: Path, rows: list[Wanted]) -> Path:
    """The rows as a typed DuckDB table (text ids, integer status, TIMESTAMP) plus a note."""
    frame = pd.DataFrame(
        {
            "activity_id": [r.activity_id for r in rows],
            "user_id": [r.user_id for r in rows],
            "approve_status": [int(r.approve_status) for r in rows],
            "signin_status": [r.signin_status for r in rows],
            "signin_time": pd.Series([r.signed_in_at for r in rows], dtype="datetime64[us]"),
            "note": "never sent",
        }
    )
    with duckdb.connect(str(path)) as con:
        con.register("frame", frame)
        con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM frame")
    return path


def statuses(registrations: Iterable[Mapping[str, Any]]) -> dict[Key, dict[str, Any]]:
    """Each registration's status fields, by (activity, user)."""
    return {
        (r["target_entity_uuid"], r["omni_user_uuid"]): {f: r.get(f) for f in STATUS_FIELDS}
        for r in registrations
    }


def wrong_final_state(
    before: Mapping[Key, Mapping[str, Any]],
    rows: Iterable[Wanted],
    after: Mapping[Key, Mapping[str, Any]],
) -> list[str]:
    """Registrations whose status differs from what was wanted (untouched ones: from before).

    A registration that is wanted but missing from `after` is wrong as well.
    """
    expected: dict[Key, dict[str, Any]] = {key: dict(values) for key, values in before.items()}
    for row in rows:
        expected.setdefault(row.key, {}).update(row.api_fields())
    wrong = []
    for key, values in expected.items():
        held = after.get(key)
        if held is None:
            wrong.append(f"{key}: missing")
            continue
        differences = {f: (v, held.get(f)) for f, v in values.items() if held.get(f) != v}
        if differences:
            wrong.append(f"{key}: wanted/held {differences}")
    return wrong
