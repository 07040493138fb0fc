"""Reading one answer user by user (a pure function: no sandbox needed)."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from jing_client import ErrorCodes
from jing_client.client import Envelope, parse_envelope
from target_jing.echo_answers import answers_table
from target_jing.ledger import ANSWER_COLUMNS
from target_jing.plan import Chunk
from target_jing.send import NOT_REGISTERED, Answered, reconcile

BATCH_PATH = "/v1/activity/update/userStatus/batch"
FIELDS = {"ems_approvestatus": "1", "ems_signintimestamp": "2025-03-01 10:00:00"}
ZONE = ZoneInfo("Asia/Shanghai")


def chunk(*users: str) -> Chunk:
    return Chunk(7, "act", dict(FIELDS), list(users), input_rows=len(users))


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
    """One answer row per user, as `Ledger.record_answers` takes them."""
    sent = chunk(*users)
    jing_uuids, results = reconcile(sent, envelope(data), ZONE)
    table = answers_table([Answered(sent, jing_uuids, results, calls=1)], ZONE)
    assert table.column_names == list(ANSWER_COLUMNS), "named, in ledger order"
    return table.to_pylist()


def test_each_user_is_applied_missing_or_different() -> None:
    rows = rows_of([echo("a"), echo("c", ems_approvestatus="2")], "a", "b", "c")
    by_user = {r["omni_user_uuid"]: r for r in rows}
    assert list(by_user) == ["a", "b", "c"]
    assert by_user["a"]["outcome"] == "applied" and by_user["a"]["chunk_id"] == 7
    assert by_user["a"]["jing_uuid"] == "j-a" and by_user["a"]["echo_ems_signinstatus"] == "0"
    assert by_user["b"]["outcome"] == "failed" and by_user["b"]["reason"] == NOT_REGISTERED
    assert by_user["b"]["failure"] == "retryable", "nothing changed; it may register later"
    assert by_user["c"]["outcome"] == "failed"
    assert "ems_approvestatus wanted '1', JING holds '2'" in by_user["c"]["reason"]
    assert by_user["c"]["failure"] == "unknown", "what JING holds now is in doubt"
    assert all(r["request_id"] == "r" * 32 for r in rows)
    assert all(r["ems_approvestatus"] == "1" for r in rows), "the wanted values, for the log"


def test_echoes_alike_in_value_but_not_in_type_are_judged_apart() -> None:
    """Each set of echoed values is judged once per call; True equals 1, yet is no status."""
    rows = rows_of(
        [echo("a", ems_approvestatus=1), echo("b", ems_approvestatus=True), echo("c")],
        "a",
        "b",
        "c",
    )
    assert [r["outcome"] for r in rows] == ["applied", "failed", "applied"]
    assert "JING holds 'True'" in rows[1]["reason"]
    assert [r["jing_uuid"] for r in rows] == ["j-a", "j-b", "j-c"]


def test_an_echo_for_another_activity_does_not_count() -> None:
    other = {**echo("a"), "target_entity_uuid": "elsewhere"}
    rows = rows_of([other], "a")
    assert {r["outcome"] for r in rows} == {"failed"}


@pytest.mark.parametrize("data", [None, {"users": []}, "ok", 5])
def test_code_0_without_readable_data_leaves_every_row_unknown(data: Any) -> None:
    rows = rows_of(data, "a", "b")
    assert len(rows) == 2 and {r["outcome"] for r in rows} == {"failed"}
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
    sent = chunk("a", "b")
    answered = Answered(sent, *reconcile(sent, envelope([echo("a")]), ZONE), 1)
    table = answers_table([answered, answered], ZONE)
    assert table.num_rows == 4 and table.column_names == list(ANSWER_COLUMNS)
    assert str(table.schema.field("chunk_id").type) == "int64"
    assert answers_table([], ZONE).num_rows == 0


def test_times_jing_set_itself_are_read_user_by_user() -> None:
    """Fields not sent may differ user by user; each echo keeps its own, read in the API's zone."""
    approved = ["2025-02-01 09:00:00", "2025-02-01T01:00:05Z", "", None, "2025-02-01 09:00:00"]
    users = [f"u{n}" for n in range(len(approved))]
    data = [echo(u, ems_approvetimestamp=t) for u, t in zip(users, approved, strict=True)]
    rows = rows_of(data, *users)
    assert {r["outcome"] for r in rows} == {"applied"}
    assert [r["echo_ems_approvetimestamp"] for r in rows] == [
        "2025-02-01 09:00:00",
        "2025-02-01 09:00:05",
        "",
        None,
        "2025-02-01 09:00:00",
    ]


@pytest.mark.parametrize(
    "echoed", ["0001-01-01 00:00:00+08:00", "2025-02-30 10:00:00", "2025-03-01 10:00:0٣"]
)
def test_a_time_that_is_no_instant_here_is_kept_as_text_and_not_applied(echoed: str) -> None:
    """An echo before the zone's first year, or not a real date or clock, is no match."""
    rows = rows_of([{**echo("a"), "ems_signintimestamp": echoed}], "a")
    assert [r["outcome"] for r in rows] == ["failed"]
    assert rows[0]["failure"] == "unknown" and rows[0]["echo_ems_signintimestamp"] == echoed


def answered_as_read(data: Any) -> Envelope:
    """The answer JING sends with `data`, as the client reads it from the wire."""
    body = json.dumps({"code": 0, "msg": "success", "request_id": "r" * 32, "data": data})
    return parse_envelope(200, {}, body.encode(), BATCH_PATH, ErrorCodes())


def test_echoed_text_that_no_utf8_holds_is_recorded_escaped() -> None:
    """A lone surrogate (JSON can carry one) in what JING echoed: the answers are still
    recorded, each such text as its escape, and a wanted value echoed so is not applied."""
    sent = chunk("a", "b")
    answer = answered_as_read(
        [
            echo("a", jing_uuid="j\ud800", ems_signinstatus="\udc00"),
            echo("b", ems_approvestatus="\ud800"),
        ]
    )
    for answered in (
        Answered(sent, [], [], calls=1, echo=answer),  # checked together, in Arrow
        Answered(sent, *reconcile(sent, answer, ZONE), calls=1),  # user by user
    ):
        by_user = {r["omni_user_uuid"]: r for r in answers_table([answered], ZONE).to_pylist()}
        assert by_user["a"]["outcome"] == "applied"
        assert (by_user["a"]["jing_uuid"], by_user["a"]["echo_ems_signinstatus"]) == (
            "j\\ud800",
            "\\udc00",
        )
        assert by_user["b"]["outcome"] == "failed" and by_user["b"]["failure"] == "unknown"
        assert by_user["b"]["echo_ems_approvestatus"] == "\\ud800"


def test_a_refusal_reason_that_no_utf8_holds_is_recorded_escaped() -> None:
    data = {"success": [echo("a")], "failure": [{"omni_user_uuid": "b", "reason": "x\udc00"}]}
    sent = chunk("a", "b")
    jing_uuids, results = reconcile(sent, answered_as_read(data), ZONE)
    table = answers_table([Answered(sent, jing_uuids, results, calls=1)], ZONE)
    by_user = {r["omni_user_uuid"]: r for r in table.to_pylist()}
    assert by_user["a"]["outcome"] == "applied"
    assert by_user["b"]["reason"] == "JING refused it: x\\udc00"
