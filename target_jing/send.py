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

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import tzinfo
from queue import Empty, SimpleQueue
from typing import Any

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
from target_jing.ledger import PERMANENT, RETRYABLE, UNKNOWN
from target_jing.plan import Chunk
from target_jing.settings import TIME_FIELDS, WANTED_FIELDS

#: Calls in a row that fail after all retries before the run stops sending.
UNREACHABLE_STREAK = 3

#: Chunks handed to the pool per worker: enough that the workers keep sending while
#: this thread records a batch of answers (at 0 ms, with 4 they stood idle through
#: each record: 100,000 rows took 3.46 s against 2.97 s with 16). Those not started
#: when the run stops are taken back (`_Senders.take_back`), and a kill sends none.
IN_FLIGHT_PER_WORKER = 16
#: Answers are recorded together, once this long has passed since the last record or
#: this many calls are waiting: a ledger transaction (its commit, and the join that
#: finds the input rows behind the answers) costs 15-30 ms whatever its size, so one
#: per call would cost more than the calls at 0 ms. A kill loses at most these
#: answers, and the next run settles their rows as unknown.
RECORD_EVERY_SECONDS = 0.5
RECORD_EVERY_CALLS = 256
#: Once the last chunk is out, this thread has nothing to do but record: the answers
#: are recorded this often, so that the run's end waits for a few calls' record, not
#: for one of the last half second's (at 20 ms a call, 30 ms against 10 ms).
RECORD_LAST_EVERY_SECONDS = 0.05

NOT_REGISTERED = "not registered for this activity (absent from the answer's data)"

#: Errors that end the run: the credentials, the app's rights or the settings, not the data.
FATAL_ERRORS = (JingAuthError, JingPermissionError, JingConfigError)

Row = dict[str, Any]

#: What became of one registration: outcome, reason, request id, failure, then the
#: values JING holds for `WANTED_FIELDS` (its echo, in the API's strings).
Result = tuple[str | None, ...]


@dataclass(frozen=True)
class Answered:
    """What became of the users of one chunk (every part of it, after splits), column by column.

    `chunk.user_ids[i]` was answered `results[i]` (a `Result`), and JING calls its
    registration `jing_uuids[i]`. Users answered alike share one `Result` object,
    so a chunk of a hundred users JING echoed as asked costs a hundred references.
    A call JING answered with a list comes as that answer (`echo`), with the two
    lists empty: `echo_answers.answers_table` reads the echoes of many calls at once.
    """

    chunk: Chunk
    jing_uuids: list[str | None]
    results: list[Result]
    #: Calls that reached the API (a call refused at the connection did not).
    calls: int
    #: The API gave no answer at all, past the client's retries (it may be down).
    transient_error: JingError | None = None
    echo: Envelope | None = None


@dataclass(frozen=True)
class Sending:
    """What every call of a run shares: the client and the API's zone."""

    client: JingClient
    zone: tzinfo


def send_chunk(sending: Sending, chunk: Chunk, *, half: bool = False) -> Answered:
    """One update call; on a refused request, halves until the bad users are alone.

    A half's echo is read user by user (`reconcile`), so that halves join as lists.
    """
    try:
        envelope = sending.client.update_user_status(
            chunk.entity_uuid, chunk.user_ids, chunk.fields
        )
    except FATAL_ERRORS:
        raise
    except JingBadRequest as error:
        if len(chunk.user_ids) == 1:
            return _failed(chunk, error, PERMANENT, calls=1)
        middle = len(chunk.user_ids) // 2
        halves = [
            send_chunk(sending, replace(chunk, user_ids=users), half=True)
            for users in (chunk.user_ids[:middle], chunk.user_ids[middle:])
        ]
        return Answered(
            chunk,
            [uuid for half in halves for uuid in half.jing_uuids],
            [result for half in halves for result in half.results],
            calls=1 + sum(half.calls for half in halves),
        )
    except JingNotFound as error:
        return _failed(chunk, error, PERMANENT, calls=1)
    except JingUnreachable as error:
        return _failed(chunk, error, RETRYABLE, calls=0, transient_error=error)
    except JingTransientError as error:
        down = error if _api_down(error) else None
        return _failed(chunk, error, UNKNOWN, calls=1, transient_error=down)
    except JingError as error:
        return _failed(chunk, error, RETRYABLE, calls=1)
    if not half and type(envelope.data) is list:
        return Answered(chunk, [], [], calls=1, echo=envelope)
    jing_uuids, results = reconcile(chunk, envelope, sending.zone)
    return Answered(chunk, jing_uuids, results, calls=1)


def _api_down(error: JingTransientError) -> bool:
    """Whether an error past all retries says the API is not answering at all.

    A timeout or a gateway's 5xx page does. The API's own error code (50000), an
    answer that came but could not be read, or a connection dropped after the
    request went out do not: something answered.
    """
    if isinstance(error, JingTimeout):
        return True
    return error.code is None and (error.http_status or 0) >= 500


def reconcile(
    chunk: Chunk, envelope: Envelope, zone: tzinfo
) -> tuple[list[str | None], list[Result]]:
    """Each user's registration id and `Result`: applied only when echoed with the wanted values.

    `data` may be the list of updated registrations, or `{"success": [...],
    "failure": [...]}`; statuses may come as numbers and times with a `T`, an
    offset or without seconds (`jing_client.times.echoed_time`). A code 0 without
    a readable `data` leaves every user's outcome unknown: the call may have
    taken effect. The echoes of one call hold few distinct sets of values (the
    same values were sent to every user), so each set is judged once.
    """
    data = envelope.data
    request_id = envelope.request_id
    users = chunk.user_ids
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
        return [None] * len(users), [_failure(reason, request_id, UNKNOWN)] * len(users)
    entity = chunk.entity_uuid
    echoed = {
        item.get("omni_user_uuid"): item
        for item in data
        if type(item) is dict and item.get("target_entity_uuid", entity) == entity
    }
    judge = _Judge(chunk.fields, zone, request_id)
    absent = _failure(NOT_REGISTERED, request_id, RETRYABLE)
    jing_uuids: list[str | None] = []
    results: list[Result] = []
    for user_id in users:
        echo = echoed.get(user_id)
        if echo is None:
            jing_uuids.append(None)
            why = refused.get(user_id)
            refusal = None if why is None else f"JING refused it: {why}"
            results.append(absent if refusal is None else _failure(refusal, request_id, RETRYABLE))
            continue
        jing_uuids.append(_text(echo.get("jing_uuid")))
        results.append(judge(echo))
    return jing_uuids, results


class _Judge:
    """The `Result` of each echo of one call, each distinct thing judged once.

    The same values were sent to every user of a call, so its echoes hold few
    distinct sets of values, and an echo like one already judged costs one lookup.
    The fields JING sets itself (an approval time) may differ user by user; each
    field's value is then read once, and only the set of what JING holds is new.
    Values are told apart by type too: `True == 1`, but `True` is no status.
    """

    def __init__(self, wanted: dict[str, str], zone: tzinfo, request_id: str | None) -> None:
        self._wanted = wanted
        self._zone = zone
        self._request_id = request_id
        self._by_echo: dict[tuple[tuple[Any, ...], tuple[type, ...]], Result] = {}
        self._by_held: dict[tuple[str | None, ...], Result] = {}
        self._reads: dict[tuple[str, Any, type], str | None] = {}

    def __call__(self, echo: Row) -> Result:
        values = tuple(map(echo.get, WANTED_FIELDS))
        key = (values, tuple(map(type, values)))
        try:
            return self._by_echo[key]
        except KeyError:
            pass
        except TypeError:  # a value that cannot be a key (a list, a dict): judged alone
            return self._result(tuple(map(self._read, WANTED_FIELDS, values)))
        held = tuple(map(self._held, WANTED_FIELDS, values))
        result = self._by_held.get(held) or self._result(held)
        self._by_held[held] = self._by_echo[key] = result
        return result

    def _held(self, name: str, value: Any) -> str | None:
        key = (name, value, type(value))
        try:
            return self._reads[key]
        except KeyError:
            read = self._reads[key] = self._read(name, value)
            return read

    def _read(self, name: str, value: Any) -> str | None:
        """What one echoed field says JING holds, in the API's strings.

        A wanted field that the echo matches at the echo's precision is the wanted
        value; other fields are the echo as read (times in the API's format and zone).
        """
        wanted = self._wanted.get(name)
        if isinstance(value, str) and value == wanted:
            return value  # the usual echo: exactly what was sent, nothing to read
        if name not in TIME_FIELDS:
            return status_text(value)
        if wanted is not None and same_api_time(wanted, value, self._zone):
            return wanted
        read = echoed_time(value, self._zone)
        return read[0] if read else _text(value)

    def _result(self, held: tuple[str | None, ...]) -> Result:
        """Applied with what JING holds, or unknown with the differences."""
        differences = [
            f"{name} wanted {value!r}, JING holds {got!r}"
            for name, value in self._wanted.items()
            if (got := held[WANTED_FIELDS.index(name)]) != value
            and not (name in TIME_FIELDS and same_api_time(value, got, self._zone))
        ]
        if differences:
            reason = "JING answered other values: " + "; ".join(differences)
            return ("failed", reason, self._request_id, UNKNOWN, *held)
        return ("applied", None, self._request_id, None, *held)


def _failure(reason: str, request_id: str | None, failure: str) -> Result:
    return ("failed", reason, request_id, failure, *(None for _ in WANTED_FIELDS))


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


def _failed(
    chunk: Chunk,
    error: JingError,
    failure: str,
    *,
    calls: int,
    transient_error: JingError | None = None,
) -> Answered:
    """Every user of `chunk` failed alike, for `error`."""
    reason = redact(f"{type(error).__name__}: {error}")
    if failure == UNKNOWN:
        reason += " (the call may have taken effect; the outcome is unknown)"
    count = len(chunk.user_ids)
    result = _failure(reason, error.request_id or None, failure)
    return Answered(chunk, [None] * count, [result] * count, calls, transient_error)


def status_text(value: Any) -> str | None:
    """A status as the API's string: "1" for 1 or "1", whatever the answer's type."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class ApiUnreachable(JingError):
    """The API gave no answer, past the client's retries, to call after call.

    Sending the rest would only spend the whole retry budget on every chunk; the
    rows stay pending and the next run sends them.
    """


class _Sender:
    """The calls in flight, and what stops the run: a fatal error or an unreachable API."""

    def __init__(
        self,
        record: Callable[[list[Answered]], None],
        base_url: str,
        prepare: Callable[[], None] | None = None,
    ) -> None:
        self.record = record
        self.base_url = base_url
        #: Runs before the first wait for an answer (`send_all`), then never again.
        self._prepare = prepare
        #: How long answers may wait to be recorded (shorter once the last chunk is out).
        self.record_every = RECORD_EVERY_SECONDS
        #: Calls handed to the senders and not collected yet.
        self.in_flight = 0
        self.fatal: JingError | None = None
        self.answered_any = False
        self.last_transient: JingError | None = None
        self._transient_streak = 0
        self._unrecorded: list[Answered] = []
        self._recorded_at = time.monotonic()

    def submit(self, senders: _Senders, chunk: Chunk) -> None:
        """Hand `chunk` to the sending threads; its answer comes back to `collect`."""
        senders.todo.put(chunk)
        self.in_flight += 1

    def collect(self, senders: _Senders) -> None:
        """Wait for at least one call (and take every other one done by then); record the
        answers when enough of them wait.

        The futures report to a queue as they finish, so a wait costs the same however
        many calls are in flight.
        """
        if self._prepare is not None:
            prepare, self._prepare = self._prepare, None
            prepare()
        done = [senders.done.get()]
        with suppress(Empty):
            while True:
                done.append(senders.done.get_nowait())
        self.in_flight -= len(done)
        for item in done:
            if isinstance(item, FATAL_ERRORS):
                self.fatal = self.fatal or item
                continue
            if isinstance(item, BaseException):
                raise item
            self._unrecorded.append(item)
            if item.transient_error is None:
                self._transient_streak = 0
                self.answered_any = True
                continue
            self.last_transient = item.transient_error
            self._transient_streak += 1
            if self._transient_streak >= UNREACHABLE_STREAK and self.fatal is None:
                self.fatal = self.unreachable(f"{UNREACHABLE_STREAK} update calls in a row")
        if self.fatal is not None:
            self.in_flight -= senders.take_back()
        if (
            self.fatal is not None
            or len(self._unrecorded) >= RECORD_EVERY_CALLS
            or time.monotonic() - self._recorded_at >= self.record_every
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


class _Senders:
    """`count` threads that send the chunks put on `todo`; each one's `Answered`, or what
    it raised, comes back on `done`.

    Why not `ThreadPoolExecutor`: its future, work item and idle semaphore take a lock or
    a condition several times a call, on this thread and the sender's. 100,000 rows at
    0 ms: 1.95 against 2.01 s of CPU (6 interleaved pairs by `perf stat`).
    """

    def __init__(self, sending: Sending, count: int) -> None:
        self.todo: SimpleQueue[Chunk | None] = SimpleQueue()
        self.done: SimpleQueue[Answered | BaseException] = SimpleQueue()
        # Daemons: leaving the block joins them, and a thread left waiting on `todo` (one
        # started before another could not be) must not hold the process open.
        self._threads = [
            threading.Thread(target=self._send, args=(sending,), name=f"jing-send_{k}", daemon=True)
            for k in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def take_back(self) -> int:
        """Take back the chunks no thread has started (they are never sent); how many."""
        taken = 0
        with suppress(Empty):
            while True:
                self.todo.get_nowait()
                taken += 1
        return taken

    def __enter__(self) -> _Senders:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Wait for the calls in flight; then the threads end."""
        for _ in self._threads:
            self.todo.put(None)
        for thread in self._threads:
            thread.join()

    def _send(self, sending: Sending) -> None:
        while (chunk := self.todo.get()) is not None:
            try:
                self.done.put(send_chunk(sending, chunk))
            except BaseException as error:
                self.done.put(error)


def send_all(
    sending: Sending,
    chunks: Iterator[Chunk],
    max_concurrency: int,
    record: Callable[[list[Answered]], None],
    *,
    prepare: Callable[[], None] | None = None,
) -> JingError | None:
    """Send every chunk; hand answers to `record` on this thread; return a fatal error, if any.

    At most `IN_FLIGHT_PER_WORKER` chunks per worker are handed out at once. When
    the last chunk is out, the answers so far are recorded while the last calls are
    answered. After a fatal error (or a signal) the chunks not started are taken back
    and nothing more is sent; the calls in flight are still recorded. A run in which
    no call got an answer at all is stopped as unreachable, however few its calls.
    `prepare` runs once, when the first calls are out and before their answers are
    awaited: what recording needs is made ready while they are answered.
    """
    sender = _Sender(record, sending.client.settings.base_url, prepare)
    with _Senders(sending, max_concurrency) as senders:
        try:
            for chunk in chunks:
                while sender.in_flight >= IN_FLIGHT_PER_WORKER * max_concurrency:
                    sender.collect(senders)
                if sender.fatal is not None:
                    break
                sender.submit(senders, chunk)
            # The last calls are out: what was answered is recorded while they are, so
            # that the run's end waits only for their own few answers.
            sender.flush()
            sender.record_every = RECORD_LAST_EVERY_SECONDS
            while sender.in_flight:
                sender.collect(senders)
        except BaseException:
            senders.take_back()  # a signal or a failure here: send nothing more
            raise
        finally:
            sender.flush()  # also when a signal stops the run: what was answered is kept
    if sender.fatal is None and not sender.answered_any and sender.last_transient is not None:
        sender.fatal = sender.unreachable("every update call")
    return sender.fatal
