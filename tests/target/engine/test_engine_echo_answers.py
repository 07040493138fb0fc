"""Echoes checked in Arrow give every user the answer `reconcile` gives user by user.

A pure function of a chunk and an echo: no sandbox needed. Random echoes mix the
usual shape with every kind of oddity `reconcile` handles (values of other types,
times in other shapes or impossible, statuses with spaces, users missing, twice
or of another activity, items that are not objects); whenever `echo_answers`
takes one, its rows must be `reconcile`'s, and it must take the usual ones.
"""

from __future__ import annotations

import random
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from jing_client.client import Envelope
from target_jing.echo_answers import answers_table, echo_answers
from target_jing.plan import Chunk
from target_jing.send import Answered, reconcile
from target_jing.settings import TIME_FIELDS, WANTED_FIELDS

ZONE = ZoneInfo("Asia/Shanghai")
REQUEST_ID = "r" * 32
TIME = "2025-03-01 10:00:00"
ODD_TIMES = [
    "",
    "2025-03-01T10:00:00",
    "2025-03-01 10:00",
    "2025-03-01 10:00:00+08:00",
    "2025-02-30 10:00:00",
    "2025-13-01 00:00:00",
    "2025-03-01 24:00:00",
    "2025-03-01 10:00:60",
    "0000-01-01 00:00:00",
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59",
    " 2025-03-01 10:00:00",
    "soon",
]
#: The last: a lone surrogate, as the client reads one (its escape: `jing_client.client._utf8`).
ODD_STATUSES = ["", " 1", "1 ", "\u00a01", 1, 1.0, True, None, "x y", "已签到", "\\ud800"]


def _envelope(data: Any) -> Envelope:
    return Envelope(
        data=data, code=0, msg="success", request_id=REQUEST_ID, http_status=200, timestamp=None
    )


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda row: (row["chunk_id"], row["omni_user_uuid"]))


def _both_ways(cases: list[tuple[Chunk, list[Any]]]) -> tuple[list[Any], list[Any]]:
    """The answer rows of a batch of calls: echoes checked together, and read one by one."""
    together = answers_table(
        [Answered(chunk, [], [], calls=1, echo=_envelope(data)) for chunk, data in cases], ZONE
    )
    alone = answers_table(
        [
            Answered(chunk, *reconcile(chunk, _envelope(data), ZONE), calls=1)
            for chunk, data in cases
        ],
        ZONE,
    )
    return _rows(together), _rows(alone)


def _random_case(rng: random.Random, odd: float, call: int) -> tuple[Chunk, list[Any]]:
    """A chunk and its echo; each oddity comes with probability about `odd`."""
    sent = rng.sample(WANTED_FIELDS, rng.randint(1, len(WANTED_FIELDS)))
    fields = {name: (TIME if name in TIME_FIELDS else rng.choice(["0", "1", "2"])) for name in sent}
    users = [f"u{n}" for n in rng.sample(range(40), rng.randint(1, 8))]
    activity = rng.choice(["act", "other"])
    chunk = Chunk(call, activity, fields, users, input_rows=len(users))
    data: list[Any] = []
    for user in users:
        if rng.random() < odd:
            continue  # not registered
        item: dict[str, Any] = {"target_entity_uuid": activity, "omni_user_uuid": user}
        item["jing_uuid"] = (
            rng.choice([f"j-{user}", 7, None]) if rng.random() < odd else f"j-{user}"
        )
        for name in WANTED_FIELDS:
            if name in fields and rng.random() >= odd:
                item[name] = fields[name]
            elif name in TIME_FIELDS:
                moment = (
                    f"2025-0{rng.randint(1, 9)}-1{rng.randint(0, 9)} 0{rng.randint(0, 9)}:30:00"
                )
                item[name] = rng.choice(ODD_TIMES) if rng.random() < odd else moment
            else:
                item[name] = rng.choice(ODD_STATUSES) if rng.random() < odd else rng.choice("0129")
            if rng.random() < odd / 4:
                del item[name]
        if rng.random() < odd / 2:
            item["target_entity_uuid"] = rng.choice(["act", "other", None])
        if rng.random() < odd / 4:
            del item["target_entity_uuid"]
        data.append(item)
    if rng.random() < odd and data:
        data.append(dict(rng.choice(data), jing_uuid="j-again"))  # a user twice
    if rng.random() < odd:
        data.append({"target_entity_uuid": activity, "omni_user_uuid": "stranger", **fields})
    if rng.random() < odd / 2:
        data.append(rng.choice([None, "text", [["omni_user_uuid", users[0]]]]))
    rng.shuffle(data)
    return chunk, data


@pytest.mark.parametrize("odd", [0.0, 0.03, 0.2])
def test_random_batches_of_echoes_get_reconciles_answers(odd: float) -> None:
    """Batches of 1 to 40 calls, the echoes of some in the usual shape, of others not."""
    rng = random.Random(f"echo-{odd}")
    calls = taken = 0
    for _ in range(60):
        cases = [_random_case(rng, odd, call) for call in range(rng.randint(1, 40))]
        together, alone = _both_ways(cases)
        assert together == alone, cases
        chunks, echoes = [chunk for chunk, _ in cases], [data for _, data in cases]
        _, left = echo_answers(chunks, echoes, [REQUEST_ID] * len(cases))
        calls += len(cases)
        taken += len(cases) - len(left)
    assert taken >= {0.0: 1.0, 0.03: 0.3, 0.2: 0.03}[odd] * calls


def test_an_echo_of_other_values_or_shapes_is_left_to_reconcile() -> None:
    fields = {"ems_approvestatus": "1", "ems_signintimestamp": TIME}
    chunk = Chunk(1, "act", fields, ["a", "b"], input_rows=2)

    def item(user: str, **values: Any) -> dict[str, Any]:
        base = {"target_entity_uuid": "act", "omni_user_uuid": user, "jing_uuid": "j", **fields}
        return base | values

    def _pairs(echo: dict[str, Any]) -> list[tuple[str, Any]]:
        """An item as key-value pairs, in the order Arrow would read them as an object."""
        names = ("target_entity_uuid", "omni_user_uuid", "jing_uuid", *WANTED_FIELDS)
        return [(name, echo.get(name)) for name in names]

    def left(echo: list[Any]) -> set[int]:
        """Which of two calls `echo_answers` leaves to `reconcile`: the second has `echo`."""
        return echo_answers([chunk, chunk], [[item("a"), item("b")], echo], [REQUEST_ID] * 2)[1]

    assert left([item("a"), item("b")]) == set()
    for kept in ("2025-02-30 10:00:00", "0000-01-01 00:00:00", ""):  # not times: kept as text
        echo = [item("a"), item("b", ems_approvetimestamp=kept)]
        rows, odd = echo_answers([chunk], [echo], [REQUEST_ID])
        assert odd == set() and rows.column("echo_ems_approvetimestamp")[1].as_py() == kept
    for odd in (
        [item("a"), item("b", ems_approvestatus="2")],  # another value: unknown
        [item("a"), item("b", ems_approvestatus=1)],  # a number
        [item("a"), item("b", ems_signintimestamp="2025-03-01T10:00:00")],  # another shape
        [item("a"), item("b", ems_approvetimestamp="2025-03-01 10:00")],  # read to the minute
        [item("a"), item("b", ems_signinstatus=" 1")],  # trimmed by reconcile
        [item("a"), item("a", jing_uuid="k")],  # twice: the last counts
        [item("a"), {"omni_user_uuid": "b", **fields}],  # no activity
        [_pairs(item("a")), _pairs(item("b"))],  # pairs, not objects: not read
    ):
        assert left(odd) == {1}, odd
