"""Reading one answer user by user (a pure function: no sandbox needed)."""

from __future__ import annotations

from typing import Any

from jing_client.client import Envelope
from target_jing.ledger import ANSWER_COLUMNS
from target_jing.plan import Chunk
from target_jing.send import NOT_REGISTERED, Answered, answers_table, reconcile

FIELDS = {"ems_approvestatus": "1", "ems_signintimestamp": "2025-03-01 10:00:00"}


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


def as_dicts(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(ANSWER_COLUMNS, row, strict=True)) for row in rows]


def test_each_user_is_applied_missing_or_different() -> None:
    answer = envelope([echo("a"), echo("c", ems_approvestatus="2")])
    rows = as_dicts(reconcile(chunk("a", "b", "c"), answer))
    by_row = {r["row_index"]: r for r in rows}
    assert set(by_row) == {0, 1, 2, 99}  # every input row behind the users
    assert by_row[0]["outcome"] == by_row[99]["outcome"] == "applied"
    assert by_row[0]["jing_uuid"] == "j-a" and by_row[0]["echo_ems_signinstatus"] == "0"
    assert by_row[1]["outcome"] == "failed" and by_row[1]["reason"] == NOT_REGISTERED
    assert by_row[2]["outcome"] == "failed"
    assert "ems_approvestatus wanted '1', JING holds '2'" in by_row[2]["reason"]
    assert all(r["request_id"] == "r" * 32 for r in rows)


def test_an_echo_for_another_activity_does_not_count() -> None:
    other = {**echo("a"), "target_entity_uuid": "elsewhere"}
    rows = as_dicts(reconcile(chunk("a"), envelope([other])))
    assert {r["outcome"] for r in rows} == {"failed"}


def test_an_answer_whose_data_is_not_a_list_fails_every_user_with_that_reason() -> None:
    rows = as_dicts(reconcile(chunk("a", "b"), envelope({"success": []})))
    assert len(rows) == 3 and {r["outcome"] for r in rows} == {"failed"}
    assert "not a list of users: dict" in rows[0]["reason"]


def test_answers_become_one_typed_table() -> None:
    answered = Answered(reconcile(chunk("a", "b"), envelope([echo("a")])), calls=1)
    table = answers_table([answered, answered])
    assert table.num_rows == 6 and table.column_names == list(ANSWER_COLUMNS)
    assert str(table.schema.field("row_index").type) == "int64"
