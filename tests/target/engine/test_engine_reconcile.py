"""Reading one answer user by user (a pure function: no sandbox needed)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from jing_client.client import Envelope
from target_jing.ledger import ANSWER_COLUMNS
from target_jing.plan import Chunk
from target_jing.send import NOT_REGISTERED, Answered, answers_table, reconcile

FIELDS = {"ems_approvestatus": "1", "ems_signintimestamp": "2025-03-01 10:00:00"}
ZONE = ZoneInfo("Asia/Shanghai")


def chunk(*users: str) -> Chunk:
    rows = {u: [("singer:s", i)] for i, u in enumerate(users)}
    rows[users[0]].append(("singer:s", 99))  # an identical duplicate behind the first user
    return Chunk(7, "act", dict(FIELDS), list(users), rows)


def echo(user: str, **values: str) -> dict[str, Any]:
    return {
        "target_entity_uuid": "act",
        "jing_uuid": f"j-{user}",
        "omni_user_uuid": user,
        "ems_signinstatus": "0",
        **FIELDS,
        **values,
    }


def envelope(data: Any) -> Envelope:
    return Envelope(
        data=data, code=0, msg="success", request_id="r" * 32, http_status=200, timestamp=None
    )


def rows_of(data: Any, *users: str) -> list[dict[str, Any]]:
    rows = reconcile(chunk(*users), envelope(data), ZONE)
    assert all(list(row) == list(ANSWER_COLUMNS) for row in rows), "named, in ledger order"
    return rows


def test_each_user_is_applied_missing_or_different() -> None:
    rows = rows_of([echo("a"), echo("c", ems_approvestatus="2")], "a", "b", "c")
    by_row = {r["row_index"]: r for r in rows}
    assert set(by_row) == {0, 1, 2, 99}  # every input row behind the users
    assert by_row[0]["outcome"] == by_row[99]["outcome"] == "applied"
    assert by_row[0]["jing_uuid"] == "j-a" and by_row[0]["echo_ems_signinstatus"] == "0"
    assert by_row[1]["outcome"] == "failed" and by_row[1]["reason"] == NOT_REGISTERED
    assert by_row[1]["failure"] == "retryable", "nothing changed; it may register later"
    assert by_row[2]["outcome"] == "failed"
    assert "ems_approvestatus wanted '1', JING holds '2'" in by_row[2]["reason"]
    assert by_row[2]["failure"] == "unknown", "what JING holds now is in doubt"
    assert all(r["request_id"] == "r" * 32 for r in rows)


def test_an_echo_for_another_activity_does_not_count() -> None:
    other = {**echo("a"), "target_entity_uuid": "elsewhere"}
    rows = rows_of([other], "a")
    assert {r["outcome"] for r in rows} == {"failed"}


@pytest.mark.parametrize("data", [None, {"users": []}, "ok", 5])
def test_code_0_without_readable_data_leaves_every_row_unknown(data: Any) -> None:
    rows = rows_of(data, "a", "b")
    assert len(rows) == 3 and {r["outcome"] for r in rows} == {"failed"}
    assert {r["failure"] for r in rows} == {"unknown"}
    assert "outcome is unknown" in rows[0]["reason"]


@pytest.mark.parametrize(
    "variant",
    [
        {"ems_approvestatus": 1},
        {"ems_signintimestamp": "2025-03-01T10:00:00"},
        {"ems_signintimestamp": "2025-03-01T10:00:00+08:00"},
        {"ems_signintimestamp": "2025-03-01T02:00:00Z"},
        {"ems_signintimestamp": "2025-03-01 10:00"},
    ],
)
def test_plausible_echo_variants_are_read_as_applied(variant: dict[str, Any]) -> None:
    rows = rows_of([{**echo("a"), **variant}], "a")
    assert {r["outcome"] for r in rows} == {"applied"}
    assert rows[0]["echo_ems_approvestatus"] == "1"
    assert rows[0]["echo_ems_signintimestamp"] == "2025-03-01 10:00:00"


def test_a_time_echoed_at_another_instant_is_not_applied() -> None:
    rows = rows_of([{**echo("a"), "ems_signintimestamp": "2025-03-01T10:00:00+00:00"}], "a")
    assert {r["outcome"] for r in rows} == {"failed"}


def test_success_and_failure_lists_are_read_with_each_failures_reason() -> None:
    data = {"success": [echo("a")], "failure": [{"omni_user_uuid": "b", "reason": "blocked"}]}
    by_user = {r["omni_user_uuid"]: r for r in rows_of(data, "a", "b", "c")}
    assert by_user["a"]["outcome"] == "applied"
    assert by_user["b"]["outcome"] == "failed" and "blocked" in by_user["b"]["reason"]
    assert by_user["c"]["reason"] == NOT_REGISTERED


def test_answers_become_one_typed_table() -> None:
    answered = Answered(reconcile(chunk("a", "b"), envelope([echo("a")]), ZONE), calls=1)
    table = answers_table([answered, answered])
    assert table.num_rows == 6 and table.column_names == list(ANSWER_COLUMNS)
    assert str(table.schema.field("row_index").type) == "int64"
