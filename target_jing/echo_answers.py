"""The answers of a batch of calls as one Arrow table; their echoes checked in one join.

JING answers an update with one item per registration it set (jing-api.md 6.4).
Usually each item holds the values sent, as sent, and the fields JING set itself
(an approval time) as text in the API's own shape. The echoes of all the calls of
a batch (as `Ledger.record_answers` takes them) are converted to Arrow at once,
joined to the calls' users by call and user, and compared column by column.

A call whose echo is in any other shape is left to `send.reconcile`, which reads
it user by user: an item that is not an object, a value that is not text, a value
other than the one sent, a status with spaces, a time in another shape, an item
without its activity, a user echoed twice. So every user's outcome is the one
`reconcile` gives; `tests/target/engine/test_engine_echo_answers.py` holds the two
together on random echoes.

This is where a `sync` first needs pyarrow: the engine imports this module while
its first calls are out (`send_all`'s `prepare`), not before them. The compute
functions are called by name (`pyarrow_private.call`): `pyarrow.compute`'s import
would cost 34 ms more.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

import pyarrow as pa

from target_jing.ledger import ANSWER_COLUMNS, RETRYABLE
from target_jing.plan import Chunk
from target_jing.pyarrow_private import call, cast_to, looking_up, matching
from target_jing.send import NOT_REGISTERED, Answered, Result, reconcile
from target_jing.settings import TIME_FIELDS, WANTED_FIELDS

#: The Arrow types of `ANSWER_COLUMNS`: a number for the chunk, else text.
ANSWER_SCHEMA = pa.schema(
    [(name, pa.int64() if name == "chunk_id" else pa.string()) for name in ANSWER_COLUMNS]
)

#: What is read of each echoed item; anything else in it is not looked at.
_ECHO_TYPE = pa.struct(
    [(name, pa.string()) for name in ("target_entity_uuid", "omni_user_uuid", "jing_uuid")]
    + [(name, pa.string()) for name in WANTED_FIELDS]
)
#: A status `read_back.status_text` keeps as it is: printable ASCII without spaces.
_PLAIN_STATUS = r"^[!-~]*$"
#: A time `jing_client.times.echoed_time` keeps as it is: the API's shape (read as
#: itself, or not a time at all and kept as text, as "2025-02-30 10:00:00" is), or "".
_PLAIN_TIME = r"^([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2})?$"


def echo_answers(
    chunks: list[Chunk], echoes: list[list[Any]], request_ids: list[str | None]
) -> tuple[pa.Table, set[int]]:
    """The answer rows of the calls whose echo is in the usual shape, and the positions
    (in `chunks`) of the others.

    `echoes[i]` is the `data` list JING answered the call of `chunks[i]` with, under
    request id `request_ids[i]`.
    """
    odd = {k for k, data in enumerate(echoes) if not all(type(item) is dict for item in data)}
    echo, of_call = _converted(echoes, odd)
    entity = pa.array([chunk.entity_uuid for chunk in chunks], pa.string())
    echoed_entity = echo.field("target_entity_uuid")
    odd |= _calls(of_call, call("is_null", echoed_entity))  # absent or null: not told apart here
    ours = call("coalesce", call("equal", echoed_entity, call("take", entity, of_call)), False)
    echo, of_call = call("filter", echo, ours), call("filter", of_call, ours)
    keys = _keys(of_call, echo.field("omni_user_uuid"))
    counted = call("value_counts", call("drop_null", keys))
    twice = call("filter", counted.field("values"), call("greater", counted.field("counts"), 1))
    # `reconcile` keeps the last of a user echoed twice: such a call is read by it.
    odd |= _calls(of_call, call("is_in", keys, options=looking_up(twice)))

    users = pa.array([user for chunk in chunks for user in chunk.user_ids], pa.string())
    user_call = pa.array([k for k, chunk in enumerate(chunks) for _ in chunk.user_ids], pa.int64())
    at = call("index_in", _keys(user_call, users), options=looking_up(keys))
    present = call("is_valid", at)
    held = {name: call("take", echo.field(name), at) for name in WANTED_FIELDS}
    sent = {
        name: pa.array([chunk.fields.get(name) for chunk in chunks], pa.string())
        for name in WANTED_FIELDS
    }
    wanted = {name: call("take", values, user_call) for name, values in sent.items()}
    for name in WANTED_FIELDS:
        shape = _PLAIN_TIME if name in TIME_FIELDS else _PLAIN_STATUS
        matches = call("match_substring_regex", held[name], options=matching(shape))
        fine = call(
            "if_else",
            call("is_valid", wanted[name]),
            call("coalesce", call("equal", held[name], wanted[name]), False),
            call("coalesce", matches, True),
        )
        odd |= _calls(user_call, call("and", present, call("invert", fine)))

    no_text = pa.scalar(None, pa.string())  # not made at import: see `pyarrow_private`
    gone = looking_up(pa.array(sorted(odd), pa.int64()))
    keep = call("invert", call("is_in", user_call, options=gone))
    of_user = call("filter", user_call, keep)
    present = call("filter", present, keep)
    chunk_ids = pa.array([chunk.chunk_id for chunk in chunks], pa.int64())
    columns = {
        "chunk_id": call("take", chunk_ids, of_user),
        "entity_uuid": call("take", entity, of_user),
        "omni_user_uuid": call("filter", users, keep),
        "outcome": call("if_else", present, "applied", "failed"),
        "reason": call("if_else", present, no_text, NOT_REGISTERED),
        "request_id": call("take", pa.array(request_ids, pa.string()), of_user),
        "failure": call("if_else", present, no_text, RETRYABLE),
        "basis": pa.nulls(len(of_user), pa.string()),
        "jing_uuid": call("filter", call("take", echo.field("jing_uuid"), at), keep),
    }
    for name in WANTED_FIELDS:
        columns[name] = call("filter", wanted[name], keep)
        columns[f"echo_{name}"] = call("filter", held[name], keep)
    table = pa.table([columns[name] for name in ANSWER_SCHEMA.names], schema=ANSWER_SCHEMA)
    return table, odd


def _converted(echoes: list[list[Any]], odd: set[int]) -> tuple[pa.StructArray, pa.Array]:
    """The items of the echoes not in `odd` as one Arrow array, and each item's call.

    A call with a value that is not text (Arrow refuses it) joins `odd`; finding
    it converts echo by echo, which only an odd batch costs.
    """
    try:
        return _items(echoes, odd)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        odd |= {k for k, data in enumerate(echoes) if k not in odd and not _converts(data)}
        return _items(echoes, odd)


def _items(echoes: list[list[Any]], odd: set[int]) -> tuple[pa.StructArray, pa.Array]:
    items: list[Any] = []
    of_call: list[int] = []
    for k, data in enumerate(echoes):
        if k not in odd:
            items += data
            of_call += [k] * len(data)
    return pa.array(items, type=_ECHO_TYPE), pa.array(of_call, pa.int64())


def _converts(data: list[Any]) -> bool:
    try:
        pa.array(data, type=_ECHO_TYPE)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    return True


def _keys(calls: pa.Array, users: pa.Array) -> pa.Array:
    """Call and user as one text (null without a user): the call's digits come first."""
    as_text = call("cast", calls, options=cast_to(pa.string()))
    return call("binary_join_element_wise", as_text, users, "\x1f")


def _calls(of_call: pa.Array, where: pa.Array) -> set[int]:
    """The calls of the rows where `where` is true."""
    return set(call("unique", call("filter", of_call, call("coalesce", where, False))).to_pylist())


#: The columns every user of a chunk shares.
_CHUNK_COLUMNS = ("chunk_id", "entity_uuid", *WANTED_FIELDS)
#: The columns of a `Result`.
_RESULT_COLUMNS = (
    "outcome",
    "reason",
    "request_id",
    "failure",
    *(f"echo_{name}" for name in WANTED_FIELDS),
)


def answers_table(answered: list[Answered], zone: tzinfo) -> pa.Table:
    """The answers as one Arrow table of `ANSWER_COLUMNS`, one row per user.

    The echoes are checked together in Arrow (`echo_answers`); one in another shape
    is read user by user (`reconcile`, in API zone `zone`). Of answers read so, what
    a chunk's users share (its id, activity and wanted values) is made once per
    chunk, and each distinct `Result` once; both are repeated by index in Arrow.
    """
    echoed = [(item, item.echo) for item in answered if item.echo is not None]
    read = [item for item in answered if item.echo is None]
    tables = []
    if echoed:
        rows, odd = echo_answers(
            [item.chunk for item, _ in echoed],
            [echo.data for _, echo in echoed],
            [echo.request_id for _, echo in echoed],
        )
        tables.append(rows)
        for k in sorted(odd):
            item, echo = echoed[k]
            read.append(Answered(item.chunk, *reconcile(item.chunk, echo, zone), calls=item.calls))
    if read or not tables:
        tables.append(_read_answers(read))
    return pa.concat_tables(tables).combine_chunks()


def _read_answers(answered: list[Answered]) -> pa.Table:
    """`answers_table` of answers read user by user (`reconcile`, `_failed`)."""
    chunks: list[tuple[Any, ...]] = []
    chunk_of: list[int] = []
    results: list[Result] = []
    result_of: list[int] = []
    users: list[str] = []
    jing_uuids: list[str | None] = []
    for item in answered:
        chunk = item.chunk
        chunk_of += [len(chunks)] * len(chunk.user_ids)
        chunks.append((chunk.chunk_id, chunk.entity_uuid, *map(chunk.fields.get, WANTED_FIELDS)))
        index_of: dict[int, int] = {}
        for result in item.results:
            index = index_of.get(id(result))
            if index is None:
                index = index_of[id(result)] = len(results)
                results.append(result)
            result_of.append(index)
        users += chunk.user_ids
        jing_uuids += item.jing_uuids
    columns = _repeated(_CHUNK_COLUMNS, chunks, chunk_of) | _repeated(
        _RESULT_COLUMNS, results, result_of
    )
    columns["omni_user_uuid"] = pa.array(users, pa.string())
    columns["jing_uuid"] = pa.array(jing_uuids, pa.string())
    columns["basis"] = pa.nulls(len(users), pa.string())
    return pa.table([columns[name] for name in ANSWER_SCHEMA.names], schema=ANSWER_SCHEMA)


def _repeated(
    names: tuple[str, ...], rows: list[tuple[Any, ...]], index: list[int]
) -> dict[str, pa.Array]:
    """Columns `names` of `rows`, row `index[i]` at position i."""
    positions = pa.array(index, pa.int64())
    values = list(zip(*rows, strict=True)) or [()] * len(names)
    return {
        name: call("take", pa.array(column, ANSWER_SCHEMA.field(name).type), positions)
        for name, column in zip(names, values, strict=True)
    }
