"""Send chunks to JING and read every answer user by user.

Calls run on a small thread pool (`max_concurrency`); the client's rate limiter
and concurrency cap are shared by all of them. Answers come back to the calling
thread, which alone writes the ledger: after each batch of confirmed chunks,
before more are sent than the pool can hold, so a kill loses at most the chunks
in flight. A code 0 does not mean every user was updated: a user missing from
`data`, or echoed with other values, failed, and says why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from jing_client import (
    JingAuthError,
    JingBadRequest,
    JingClient,
    JingError,
    JingPermissionError,
)
from jing_client.client import Envelope
from jing_client.redact import redact
from target_jing.ledger import ANSWER_COLUMNS
from target_jing.plan import Chunk
from target_jing.settings import WANTED_FIELDS

NOT_REGISTERED = "not registered for this activity (absent from the answer's data)"

#: Calls in a row that fail after all retries before the run stops sending.
UNREACHABLE_STREAK = 3

#: Chunks handed to the pool per worker: enough that answers wait for the ledger in
#: batches (one transaction for many chunks), few enough that a kill re-sends little.
IN_FLIGHT_PER_WORKER = 4

#: Errors that end the run: the credentials or the app's rights, not the data.
FATAL_ERRORS = (JingAuthError, JingPermissionError)


@dataclass(frozen=True)
class Answered:
    """The users of one call (a chunk, or a part of one after a split) and what became of them."""

    rows: list[tuple[Any, ...]]
    calls: int
    #: A transient error the client's retries could not overcome (the API may be down).
    transient_error: JingError | None = None


def send_chunk(client: JingClient, chunk: Chunk) -> Answered:
    """One update call; on a refused request, halves until the bad users are alone.

    A whole chunk refused as a bad request may be one bad user id: each half is
    sent again, so the good users are still applied and the bad ones isolated.
    """
    try:
        envelope = client.update_user_status(chunk.entity_uuid, chunk.user_ids, chunk.fields)
    except FATAL_ERRORS:
        raise
    except JingBadRequest as error:
        if len(chunk.user_ids) == 1 or _blames_shared_value(chunk, error):
            return Answered(_failed_rows(chunk, error), calls=1)
        middle = len(chunk.user_ids) // 2
        halves = [
            send_chunk(
                client, Chunk(chunk.chunk_id, chunk.entity_uuid, chunk.fields, users, chunk.rows)
            )
            for users in (chunk.user_ids[:middle], chunk.user_ids[middle:])
        ]
        return Answered(
            [row for half in halves for row in half.rows], 1 + sum(h.calls for h in halves)
        )
    except JingError as error:
        transient = error if error.transient else None
        return Answered(_failed_rows(chunk, error), calls=1, transient_error=transient)
    return Answered(reconcile(chunk, envelope), calls=1)


def _blames_shared_value(chunk: Chunk, error: JingBadRequest) -> bool:
    """Whether the API's `msg` names a value every user of the chunk shares.

    The API names the bad parameter (jing-api.md 3). When that is the activity or
    a status the whole chunk carries, no split can save any row: halving would
    only spend calls.
    """
    return any(name in error.msg for name in ("entity_uuid", *chunk.fields))


def reconcile(chunk: Chunk, envelope: Envelope) -> list[tuple[Any, ...]]:
    """One answer row per user asked for: applied only when echoed with the wanted values."""
    if not isinstance(envelope.data, list):
        reason = f"the answer's data is not a list of users: {type(envelope.data).__name__}"
        return [
            row
            for user_id in chunk.user_ids
            for row in _rows(chunk, user_id, "failed", reason, envelope.request_id)
        ]
    data = envelope.data
    echoed = {
        item.get("omni_user_uuid"): item
        for item in data
        if isinstance(item, dict)
        and item.get("target_entity_uuid", chunk.entity_uuid) == chunk.entity_uuid
    }
    rows = []
    for user_id in chunk.user_ids:
        echo = echoed.get(user_id)
        if echo is None:
            rows.extend(_rows(chunk, user_id, "failed", NOT_REGISTERED, envelope.request_id))
            continue
        differences = [
            f"{name} wanted {wanted!r}, JING holds {echo.get(name)!r}"
            for name, wanted in chunk.fields.items()
            if echo.get(name) != wanted
        ]
        if differences:
            reason = "JING answered other values: " + "; ".join(differences)
            rows.extend(_rows(chunk, user_id, "failed", reason, envelope.request_id, echo))
        else:
            rows.extend(_rows(chunk, user_id, "applied", None, envelope.request_id, echo))
    return rows


def _failed_rows(chunk: Chunk, error: JingError) -> list[tuple[Any, ...]]:
    reason = redact(f"{type(error).__name__}: {error}")
    return [
        row
        for user_id in chunk.user_ids
        for row in _rows(chunk, user_id, "failed", reason, error.request_id or None)
    ]


def _rows(
    chunk: Chunk,
    user_id: str,
    outcome: str,
    reason: str | None,
    request_id: str | None,
    echo: dict[str, Any] | None = None,
) -> list[tuple[Any, ...]]:
    """One row per input row behind `user_id`, in the order of `ledger.ANSWER_COLUMNS`."""
    echo = echo or {}
    shared = (
        chunk.entity_uuid,
        user_id,
        *(chunk.fields.get(name) for name in WANTED_FIELDS),
        outcome,
        reason,
        request_id,
        _text(echo.get("jing_uuid")),
        *(_text(echo.get(name)) for name in WANTED_FIELDS),
    )
    return [
        (chunk.chunk_id, source, row_index, *shared)
        for source, row_index in chunk.rows.get(user_id, [])
    ]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


#: Arrow types of `ledger.ANSWER_COLUMNS`: numbers for the chunk and row index, else text.
ANSWER_SCHEMA = pa.schema(
    [
        (name, pa.int64() if name in ("chunk_id", "row_index") else pa.string())
        for name in ANSWER_COLUMNS
    ]
)


def answers_table(answered: list[Answered]) -> pa.Table:
    """The answers as one Arrow table, column by column (cheap to build and to scan)."""
    rows = [row for item in answered for row in item.rows]
    return pa.table(
        [
            pa.array([row[i] for row in rows], type=column.type)
            for i, column in enumerate(ANSWER_SCHEMA)
        ],
        schema=ANSWER_SCHEMA,
    )


class ApiUnreachable(JingError):
    """Call after call failed even after the client's retries: the API is down or unreachable.

    Sending the rest would only spend the whole retry budget on every chunk; the
    rows stay pending and the next run sends them.
    """


class _Sender:
    """The calls in flight, and what stops the run: a fatal error or an unreachable API."""

    def __init__(self, record: Callable[[list[Answered]], None]) -> None:
        self.record = record
        self.in_flight: set[Future[Answered]] = set()
        self.fatal: JingError | None = None
        self._transient_streak = 0

    def collect(self) -> None:
        """Wait for at least one call; record all that are done in one go."""
        done, self.in_flight = wait(self.in_flight, return_when=FIRST_COMPLETED)
        answered = []
        for future in done:
            try:
                item = future.result()
            except FATAL_ERRORS as error:
                self.fatal = self.fatal or error
                continue
            answered.append(item)
            if item.transient_error is None:
                self._transient_streak = 0
                continue
            self._transient_streak += 1
            if self._transient_streak >= UNREACHABLE_STREAK and self.fatal is None:
                self.fatal = ApiUnreachable(
                    f"{UNREACHABLE_STREAK} update calls in a row failed after all retries, "
                    f"so sending stopped; the last: {item.transient_error}"
                )
        if answered:
            self.record(answered)


def send_all(
    client: JingClient,
    chunks: Iterator[Chunk],
    max_concurrency: int,
    record: Callable[[list[Answered]], None],
) -> JingError | None:
    """Send every chunk; hand answers to `record` on this thread; return a fatal error, if any.

    At most `IN_FLIGHT_PER_WORKER` chunks per worker are out at once, so a kill
    re-sends little. After
    a fatal error nothing more is sent, and the chunks in flight are still recorded.
    """
    sender = _Sender(record)
    with ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="jing-send") as pool:
        for chunk in chunks:
            while len(sender.in_flight) >= IN_FLIGHT_PER_WORKER * max_concurrency:
                sender.collect()
            if sender.fatal is not None:
                break
            sender.in_flight.add(pool.submit(send_chunk, client, chunk))
        while sender.in_flight:
            sender.collect()
    return sender.fatal
