"""Send chunks to JING and read every answer user by user.

Calls run on a small thread pool (`max_concurrency`); the client's rate limiter
and concurrency cap are shared by all of them. Answers come back to the calling
thread, which alone writes the ledger: after each batch of answered chunks,
before more are sent than the pool can hold, so a kill loses at most the chunks
in flight (and the next run treats those as unknown).

Each row's failure is sorted here. *Permanent*: JING refused that row's value
or id once the row was alone in its call (a refused chunk is halved until the
bad rows are isolated; the API's `msg` text is never read), or the activity does
not exist. *Unknown*: the call may have taken effect although its answer was
never read (a timeout after sending, a dropped connection, a cut-off or HTML
body, code 0 without a readable `data`, an echo with other values). *Retryable*:
nothing was changed, and a later run may succeed (a user not yet registered, a
call that never reached the API). With `read_back`, the engine settles the
unknown rows once sending is over, by reading their activities back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

import pyarrow as pa

from jing_client import (
    JingAuthError,
    JingBadRequest,
    JingClient,
    JingConfigError,
    JingError,
    JingNotFound,
    JingPermissionError,
    JingTimeout,
    JingTransientError,
    JingUnreachable,
)
from jing_client.client import Envelope
from jing_client.redact import redact
from jing_client.times import echoed_time, same_api_time
from target_jing.ledger import ANSWER_COLUMNS, PERMANENT, RETRYABLE, UNKNOWN
from target_jing.plan import Chunk
from target_jing.read_back import status_text
from target_jing.settings import TIME_FIELDS, WANTED_FIELDS

NOT_REGISTERED = "not registered for this activity (absent from the answer's data)"

#: Calls in a row that fail after all retries before the run stops sending.
UNREACHABLE_STREAK = 3

#: Chunks handed to the pool per worker: enough that answers wait for the ledger in
#: batches (one transaction for many chunks), few enough that a kill re-sends little.
IN_FLIGHT_PER_WORKER = 4
#: Answers are recorded together, once this long has passed since the last record or
#: this many calls are waiting: a ledger transaction costs about as much as 50 rows'
#: worth of its inserts, so one per call would cost more than the calls at 0 ms. A kill
#: loses at most these answers, and the next run settles their rows as unknown.
RECORD_EVERY_SECONDS = 0.5
RECORD_EVERY_CALLS = 64

#: Errors that end the run: the credentials, the app's rights or the settings, not the data.
FATAL_ERRORS = (JingAuthError, JingPermissionError, JingConfigError)

Row = dict[str, Any]


@dataclass(frozen=True)
class Answered:
    """The users of one call (a chunk, or a part of one after a split) and what became of them."""

    rows: list[Row]
    #: Calls that reached the API (a call refused at the connection did not).
    calls: int
    #: The API gave no answer at all, past the client's retries (it may be down).
    transient_error: JingError | None = None


@dataclass(frozen=True)
class Sending:
    """What every call of a run shares: the client and the API's zone."""

    client: JingClient
    zone: tzinfo


def send_chunk(sending: Sending, chunk: Chunk) -> Answered:
    """One update call; on a refused request, halves until the bad users are alone."""
    try:
        envelope = sending.client.update_user_status(
            chunk.entity_uuid, chunk.user_ids, chunk.fields
        )
    except FATAL_ERRORS:
        raise
    except JingBadRequest as error:
        if len(chunk.user_ids) == 1:
            return Answered(_failed_rows(chunk, error, PERMANENT), calls=1)
        middle = len(chunk.user_ids) // 2
        halves = [
            send_chunk(
                sending, Chunk(chunk.chunk_id, chunk.entity_uuid, chunk.fields, users, chunk.rows)
            )
            for users in (chunk.user_ids[:middle], chunk.user_ids[middle:])
        ]
        return Answered(
            [row for half in halves for row in half.rows], 1 + sum(h.calls for h in halves)
        )
    except JingNotFound as error:
        return Answered(_failed_rows(chunk, error, PERMANENT), calls=1)
    except JingUnreachable as error:
        return Answered(_failed_rows(chunk, error, RETRYABLE), calls=0, transient_error=error)
    except JingTransientError as error:
        rows = _failed_rows(chunk, error, UNKNOWN)
        return Answered(rows, calls=1, transient_error=error if _api_down(error) else None)
    except JingError as error:
        return Answered(_failed_rows(chunk, error, RETRYABLE), calls=1)
    return Answered(reconcile(chunk, envelope, sending.zone), calls=1)


def _api_down(error: JingTransientError) -> bool:
    """Whether an error past all retries says the API is not answering at all.

    A timeout or a gateway's 5xx page does. The API's own error code (50000), an
    answer that came but could not be read, or a connection dropped after the
    request went out do not: something answered.
    """
    if isinstance(error, JingTimeout):
        return True
    return error.code is None and (error.http_status or 0) >= 500


def reconcile(chunk: Chunk, envelope: Envelope, zone: tzinfo) -> list[Row]:
    """One answer row per input row: applied only when echoed with the wanted values.

    `data` may be the list of updated registrations, or `{"success": [...],
    "failure": [...]}`; statuses may come as numbers and times with a `T`, an
    offset or without seconds (`jing_client.times.echoed_time`). A code 0 without
    a readable `data` leaves every row's outcome unknown: the call may have
    taken effect.
    """
    data = envelope.data
    refused: dict[str, str] = {}
    if isinstance(data, dict) and ("success" in data or "failure" in data):
        refused = _refusals(data.get("failure"))
        data = data.get("success") or []
    if not isinstance(data, list):
        reason = (
            "code 0 but no readable data (data is "
            f"{type(data).__name__ if data is not None else 'missing or null'}): "
            "the call may have taken effect; the outcome is unknown"
        )
        return [
            row
            for user_id in chunk.user_ids
            for row in _rows(chunk, user_id, "failed", reason, envelope.request_id, UNKNOWN)
        ]
    echoed = {
        item.get("omni_user_uuid"): item
        for item in data
        if isinstance(item, dict)
        and item.get("target_entity_uuid", chunk.entity_uuid) == chunk.entity_uuid
    }
    rows: list[Row] = []
    for user_id in chunk.user_ids:
        echo = echoed.get(user_id)
        if echo is None:
            reason = (
                f"JING refused it: {refused[user_id]}" if user_id in refused else NOT_REGISTERED
            )
            rows.extend(_rows(chunk, user_id, "failed", reason, envelope.request_id, RETRYABLE))
            continue
        values = _held(echo, chunk.fields, zone)
        differences = _differences(chunk.fields, values, zone)
        if differences:
            reason = "JING answered other values: " + "; ".join(differences)
            rows.extend(_rows(chunk, user_id, "failed", reason, envelope.request_id, UNKNOWN))
        else:
            rows.extend(
                _rows(chunk, user_id, "applied", None, envelope.request_id, None, echo, values)
            )
    return rows


def _refusals(failure: Any) -> dict[str, str]:
    """User id -> JING's reason, from a `failure` list of ids or of objects."""
    found: dict[str, str] = {}
    for item in failure if isinstance(failure, list) else []:
        if isinstance(item, str):
            found[item] = "listed under failure"
        elif isinstance(item, dict):
            user = item.get("omni_user_uuid") or item.get("user_id")
            why = item.get("reason") or item.get("msg") or item.get("message") or "no reason given"
            if isinstance(user, str):
                found[user] = redact(str(why))[:200]
    return found


def _held(echo: Row, wanted: dict[str, str], zone: tzinfo) -> dict[str, str | None]:
    """What an echo says JING holds, in the API's own strings.

    A wanted field that the echo matches at the echo's precision is the wanted
    value; other fields are the echo as read (times in the API's format and zone).
    """
    held: dict[str, str | None] = {}
    for name in WANTED_FIELDS:
        value = echo.get(name)
        if isinstance(value, str) and value == wanted.get(name):
            held[name] = value  # the usual echo: exactly what was sent, nothing to read
        elif name in TIME_FIELDS:
            if name in wanted and same_api_time(wanted[name], value, zone):
                held[name] = wanted[name]
            else:
                read = echoed_time(value, zone)
                held[name] = read[0] if read else _text(value)
        else:
            held[name] = status_text(value)
    return held


def _differences(wanted: dict[str, str], held: dict[str, Any], zone: tzinfo) -> list[str]:
    differences = []
    for name, value in wanted.items():
        got = held.get(name)
        same = got == value or (name in TIME_FIELDS and same_api_time(value, got, zone))
        if not same:
            differences.append(f"{name} wanted {value!r}, JING holds {got!r}")
    return differences


def _failed_rows(chunk: Chunk, error: JingError, failure: str) -> list[Row]:
    reason = redact(f"{type(error).__name__}: {error}")
    if failure == UNKNOWN:
        reason += " (the call may have taken effect; the outcome is unknown)"
    return [
        row
        for user_id in chunk.user_ids
        for row in _rows(chunk, user_id, "failed", reason, error.request_id or None, failure)
    ]


def _rows(
    chunk: Chunk,
    user_id: str,
    outcome: str,
    reason: str | None,
    request_id: str | None,
    failure: str | None,
    echo: Row | None = None,
    held: dict[str, str | None] | None = None,
) -> list[Row]:
    """One row per input row behind `user_id`, with the names of `ledger.ANSWER_COLUMNS`."""
    echo, held = echo or {}, held or {}
    shared: Row = {
        "entity_uuid": chunk.entity_uuid,
        "omni_user_uuid": user_id,
        **{name: chunk.fields.get(name) for name in WANTED_FIELDS},
        "outcome": outcome,
        "reason": reason,
        "request_id": request_id,
        "failure": failure,
        "basis": None,
        "jing_uuid": _text(echo.get("jing_uuid")),
        **{f"echo_{name}": held.get(name) for name in WANTED_FIELDS},
    }
    return [
        {"chunk_id": chunk.chunk_id, "source": source, "row_index": row_index, **shared}
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
    """The answers as one Arrow table, by column name (built column by column: faster)."""
    rows = [row for item in answered for row in item.rows]
    return pa.Table.from_pydict(
        {name: [row[name] for row in rows] for name in ANSWER_SCHEMA.names}, schema=ANSWER_SCHEMA
    )


class ApiUnreachable(JingError):
    """The API gave no answer, past the client's retries, to call after call.

    Sending the rest would only spend the whole retry budget on every chunk; the
    rows stay pending and the next run sends them.
    """


class _Sender:
    """The calls in flight, and what stops the run: a fatal error or an unreachable API."""

    def __init__(self, record: Callable[[list[Answered]], None], base_url: str) -> None:
        self.record = record
        self.base_url = base_url
        self.in_flight: set[Future[Answered]] = set()
        self.fatal: JingError | None = None
        self.answered_any = False
        self.last_transient: JingError | None = None
        self._transient_streak = 0
        self._unrecorded: list[Answered] = []
        self._recorded_at = time.monotonic()

    def collect(self) -> None:
        """Wait for at least one call; record the answers when enough of them wait."""
        done, self.in_flight = wait(self.in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            try:
                item = future.result()
            except FATAL_ERRORS as error:
                self.fatal = self.fatal or error
                continue
            self._unrecorded.append(item)
            if item.transient_error is None:
                self._transient_streak = 0
                self.answered_any = True
                continue
            self.last_transient = item.transient_error
            self._transient_streak += 1
            if self._transient_streak >= UNREACHABLE_STREAK and self.fatal is None:
                self.fatal = self.unreachable(f"{UNREACHABLE_STREAK} update calls in a row")
        if (
            self.fatal is not None
            or len(self._unrecorded) >= RECORD_EVERY_CALLS
            or time.monotonic() - self._recorded_at >= RECORD_EVERY_SECONDS
        ):
            self.flush()

    def flush(self) -> None:
        """Record every answer not recorded yet, in one go."""
        answered, self._unrecorded = self._unrecorded, []
        self._recorded_at = time.monotonic()
        if answered:
            self.record(answered)

    def unreachable(self, which: str) -> ApiUnreachable:
        return ApiUnreachable(
            f"the API at {self.base_url} did not answer: {which} failed after all retries, "
            f"so sending stopped; the last: {self.last_transient}"
        )


def send_all(
    sending: Sending,
    chunks: Iterator[Chunk],
    max_concurrency: int,
    record: Callable[[list[Answered]], None],
) -> JingError | None:
    """Send every chunk; hand answers to `record` on this thread; return a fatal error, if any.

    At most `IN_FLIGHT_PER_WORKER` chunks per worker are out at once, so a kill
    re-sends little. After a fatal error nothing more is sent, and the chunks in
    flight are still recorded. A run in which no call got an answer at all is
    stopped as unreachable, however few its calls.
    """
    sender = _Sender(record, sending.client.settings.base_url)
    with ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="jing-send") as pool:
        try:
            for chunk in chunks:
                while len(sender.in_flight) >= IN_FLIGHT_PER_WORKER * max_concurrency:
                    sender.collect()
                if sender.fatal is not None:
                    break
                sender.in_flight.add(pool.submit(send_chunk, sending, chunk))
            while sender.in_flight:
                sender.collect()
        finally:
            sender.flush()  # also when a signal stops the run: what was answered is kept
    if sender.fatal is None and not sender.answered_any and sender.last_transient is not None:
        sender.fatal = sender.unreachable("every update call")
    return sender.fatal
