"""`SyncRun`: one write-back run, from input rows to a recorded summary.

Every surface (the Singer target, `target-jing sync`, the DataFrame function)
drives the same object: open it, add rows from any number of sources, finish.
Rows move forward only: checked and staged in the ledger (durable the moment
`add_*` returns), planned in SQL, sent in chunks, and recorded chunk by chunk.
The ledger, not memory, is the state: a run killed at any point is finished by
the next one (`_recover`), which re-sends at most the chunks that were in flight.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from itertools import islice
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypedDict
from zoneinfo import ZoneInfo

import duckdb

from jing_client import JingClient, JingConfigError, JingError
from jing_client.redact import first_line, redact, register_secret
from jing_singer import exit_codes
from target_jing import plan
from target_jing.input_columns import BATCH_ROWS, check_columns
from target_jing.ledger import INTERRUPTED, OUTCOMES, PENDING_SOURCE, Ledger, destination_of, now
from target_jing.plain_relation import PlainRows, plain_rows
from target_jing.pyarrow_private import (
    arrow_without_pandas,
    load_compute,
    pandas_for_arrow,
    without_numpy,
)
from target_jing.send import (
    FATAL_ERRORS,
    Answered,
    ApiUnreachable,
    Sending,
    send_all,
)
from target_jing.settings import KEY_FIELDS, TargetSettings
from target_jing.shards import Shard, live_share
from target_jing.sources import quote_identifier

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from target_jing.read_back import ReadBack

Mode = Literal["normal", "dry_run", "full"]


def run_mode(*, dry_run: bool = False, full: bool = False) -> Mode:
    """The mode that the flags (`--dry-run`, `--full`, or the DataFrame call's) ask for."""
    if dry_run and full:
        raise ValueError("choose dry_run or full, not both")
    return "dry_run" if dry_run else "full" if full else "normal"


MODES: tuple[str, ...] = ("normal", "dry_run", "full")
#: A run whose process died within this many seconds (plus `read_timeout`) of the next
#: run may still have calls in flight (`SyncRun._let_calls_land`).
RECENT_DEATH_SECONDS = 60.0
#: The longest wait for a dead run's calls to land.
LANDING_SECONDS = 5.0

logger = logging.getLogger("target-jing")


#: The ledger's tables that a run fills in bulk, and that settling a run joins.
WORKING_TABLES = (
    "jing_staged",
    "jing_work",
    "jing_sync_log",
    "jing_applied_status",
    "jing_pending",
)


@dataclass(frozen=True)
class Progress:
    """Where a run is: `read` rows staged, `plan`, `send` rows answered, `done`."""

    phase: Literal["read", "plan", "send", "done"]
    rows_done: int
    rows_total: int | None
    calls: int


#: What stopped a run early: refused credentials or rights, a setting, or an API that
#: did not answer.
StoppedBy = Literal["auth", "config", "unreachable"]


class Summary(TypedDict):
    """The JSON summary line of a run, and what `sync_dataframe` returns (README: Summary)."""

    run_id: str
    mode: str
    status: Literal["succeeded", "failed", "aborted"]
    counts: dict[str, int]
    rows_in: int
    update_calls: int
    minimum_calls: int
    seconds: float
    fatal_error: str | None
    api_unreachable: bool
    ledger_path: str
    client_stats: dict[str, int]
    input_counts: dict[str, int]
    input_rows: int
    retried: int
    stopped_by: StoppedBy | None
    destination: str
    reasons: list[dict[str, Any]]
    rows_per_second: float
    failed_ratio: float
    exit_code: int


@dataclass(frozen=True)
class RunSummary:
    """What became of a run; `as_dict()` is the JSON summary line.

    `counts` and `rows_in` cover every row the run logged: its own input and the
    pending rows of earlier runs it retried (`retried` of them). `input_counts`
    and `input_rows` are its own input alone, which `max_failed_ratio` judges:
    a retried row that fails again is reported, but does not fail this run.
    """

    run_id: str
    mode: str
    status: Literal["succeeded", "failed", "aborted"]
    counts: dict[str, int]
    rows_in: int
    update_calls: int
    minimum_calls: int
    seconds: float
    fatal_error: str | None = None
    #: The fatal error was `ApiUnreachable` (not auth): the rows wait in jing_pending.
    api_unreachable: bool = False
    ledger_path: str = ""
    client_stats: dict[str, int] = field(default_factory=dict)
    input_counts: dict[str, int] = field(default_factory=dict)
    input_rows: int = 0
    retried: int = 0
    stopped_by: StoppedBy | None = None
    destination: str = ""
    #: Why rows failed or were rejected, grouped, most frequent first (at most 10 groups).
    reasons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        return self.rows_in / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """The code the process ends with for this run (`jing_singer.exit_codes`)."""
        return exit_codes.for_status(self.status, self.stopped_by)

    @property
    def failed_ratio(self) -> float:
        """Failed and rejected rows as a share of the run's own input rows (0 for none)."""
        bad = self.input_counts.get("failed", 0) + self.input_counts.get("rejected", 0)
        return bad / self.input_rows if self.input_rows else 0.0

    def as_dict(self) -> Summary:
        return {  # type: ignore[typeddict-item]
            **asdict(self),
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "failed_ratio": round(self.failed_ratio, 6),
            "exit_code": self.exit_code,
        }


class SyncRun:
    """One run over one ledger; a context manager (see the module docstring)."""

    def __init__(
        self,
        settings: TargetSettings,
        mode: Mode = "normal",
        on_progress: Callable[[Progress], None] | None = None,
        shard: Shard | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        register_secret(settings.client.app_secret)
        #: The app's whole budget, before a shard takes its share of it.
        self._budget = settings.client
        if shard is not None and settings.shards_share_budget:
            settings = replace(settings, client=shard.share(settings.client))
        self.settings = settings
        self.mode = mode
        #: With `--shard`: only the rows (and pending rows) of this shard's activities.
        self.shard = shard
        self.run_id = _new_run_id()
        self._on_progress = on_progress
        self._ledger: Ledger | None = None
        self._next_index: Counter[str] = Counter()
        self._rows_read = 0
        self._started = time.monotonic()
        self._summary: RunSummary | None = None
        self.destination = destination_of(settings.client.base_url, settings.client.app_id)
        self._client: JingClient | None = None

    # -- context ------------------------------------------------------------------------

    def __enter__(self) -> SyncRun:
        home = self.settings.ledger_home
        try:
            self._ledger = Ledger(home, self.destination, self.shard)
        except JingConfigError as error:
            if self.shard is None or home.on_postgres:
                raise
            raise JingConfigError(
                f"{error}. Shard {self.shard}: a DuckDB ledger file takes one run at a time, "
                "so the shards of one ledger_path run one after another; to run them at "
                "once, put the ledger on PostgreSQL (ledger_url) or give each shard its own "
                "ledger_path"
            ) from None
        try:
            if self.mode != "dry_run":
                self._recover()
            self._ledger.start_run(self.run_id, self.mode, now())
        except BaseException:
            self._ledger.close()
            raise
        self._started = time.monotonic()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        ledger = self._require_ledger()
        try:
            if self._summary is None:
                reason = redact(f"{type(exc).__name__}: {exc}") if exc else "finish() not called"
                self._abort(f"the run stopped before finishing: {reason}")
        except Exception as error:
            if exc is None:
                raise
            # The ledger went with what stopped the run (a lost server, a full disk): the
            # next run settles this one as dead, and the first error is the one to report.
            logger.warning("could not record the run as aborted: %s", first_line(error))
        finally:
            if self._client is not None:
                self._client.close()
            with suppress(Exception) if exc is not None else nullcontext():
                ledger.close()

    # -- input --------------------------------------------------------------------------

    def check_shape(self, columns: Iterable[str], source: str) -> None:
        """Refuse a source whose columns cannot be right (`rows.check_columns`) before reading."""
        check_columns(list(columns), self.settings, source)

    def add_records(self, records: Iterable[Mapping[str, Any]], source: str) -> int:
        """Check and stage Singer records (any columns); return how many were added."""
        import pandas as pd  # records are checked by `rows`, which works on pandas

        iterator = iter(records)

        def frames() -> Iterator[pd.DataFrame]:
            while batch := list(islice(iterator, BATCH_ROWS)):
                # Objects, not inferred string columns: a lone surrogate (valid JSON)
                # must reach the row checks to be refused, not crash pyarrow.
                yield pd.DataFrame(batch, dtype=object)

        return self._stage(frames(), source)

    def add_relation(self, relation: duckdb.DuckDBPyRelation, source: str) -> int:
        """Check and stage a DuckDB table or query: in DuckDB when every row is plainly
        good (`plain_relation`), else streamed in Arrow batches.

        Id columns that are not text (BIGINT, HUGEINT, DECIMAL) are read as text by
        DuckDB itself: through pandas, a BIGINT column with a NULL would become
        floats, and 9007199254740993 would be sent as 9007199254740992. So are time
        columns that hold an infinity (`_readable`). A batch whose rows are all plainly
        good is checked in Arrow (`typed_rows`); any other goes through `rows`.
        """
        check_columns(relation.columns, self.settings, source)
        readable = _readable(relation, self.settings)
        ledger = self._require_open()
        if self.shard is None and not ledger.home.on_postgres:
            plain = plain_rows(readable, self.settings, self._next_index[source])
            if plain is not None:
                return self._stage_plain(plain, source)
        arrow_without_pandas()
        return self._stage(readable.to_arrow_reader(BATCH_ROWS), source)

    def add_batches(
        self, columns: Sequence[str], batches: Iterable[pd.DataFrame], source: str
    ) -> int:
        """Check and stage rows that come in batches with these columns (a database cursor)."""
        check_columns(list(columns), self.settings, source)
        return self._stage(batches, source)

    def add_dataframe(self, frame: pd.DataFrame, source: str = "dataframe") -> int:
        """Check and stage a pandas DataFrame, a slice at a time."""
        check_columns([str(c) for c in frame.columns], self.settings, source)
        slices = (
            frame.iloc[start : start + BATCH_ROWS] for start in range(0, len(frame), BATCH_ROWS)
        )
        return self._stage(slices, source)

    def _stage(self, batches: Iterable[pd.DataFrame | pa.RecordBatch], source: str) -> int:
        """Stage batch by batch, each in its own transaction: durable once this returns.

        One transaction for a whole call would hold every row of it in memory
        until the commit (DuckDB keeps uncommitted appends there). So a call that
        fails part-way takes its staged batches back out; a kill part-way leaves
        them, and the next run sends them (valid rows, and setting a status twice
        is harmless; a Singer tap re-sends them anyway, as their STATE was not
        emitted).
        """
        _check_source(source)
        ledger = self._require_open()
        first = self._next_index[source]
        holds = None if self.shard is None else self.shard.holds
        staged = 0
        try:
            for batch in batches:
                checked = self._checked(batch, source, holds)
                self._next_index[source] += len(batch)  # row i of the source stays row i
                ledger.stage(self.run_id, checked)
                staged += len(checked)
                self._rows_read += len(checked)
                self._progress("read", self._rows_read, None, 0)
        except BaseException:
            ledger.unstage(self.run_id, source, first)
            self._rows_read -= staged
            self._next_index[source] = first
            raise
        return self._next_index[source] - first

    def _stage_plain(self, plain: PlainRows, source: str) -> int:
        """Stage a relation `plain_relation` took, in one transaction (`_stage`'s rules)."""
        _check_source(source)
        ledger = self._require_open()
        first = self._next_index[source]
        try:
            ledger.stage_plain(self.run_id, source, plain.stream)
        except BaseException:
            ledger.unstage(self.run_id, source, first)
            raise
        self._next_index[source] += plain.count
        self._rows_read += plain.count
        self._progress("read", self._rows_read, None, 0)
        return plain.count

    def _checked(
        self,
        batch: pd.DataFrame | pa.RecordBatch,
        source: str,
        holds: Callable[[str | None], bool] | None,
    ) -> pd.DataFrame | pa.Table:
        """One batch's staged rows: by Arrow compute when it can (`typed_rows`), else by `rows`."""
        import pyarrow as pa

        from target_jing.typed_rows import check_typed

        first = self._next_index[source]
        if isinstance(batch, pa.RecordBatch):
            typed = None if holds else check_typed(batch, self.settings, source, first)
            if typed is not None:
                return typed
        # pandas is imported here, by the first batch that needs it (`pyarrow_private`).
        from target_jing.rows import check_batch

        pandas_for_arrow()
        frame = batch.to_pandas() if isinstance(batch, pa.RecordBatch) else batch
        return check_batch(frame, self.settings, source, first, holds)

    # -- finish -------------------------------------------------------------------------

    def finish(self) -> RunSummary:
        """Plan, send (unless a dry run) and record; return the summary."""
        ledger = self._require_open()
        self._progress("plan", 0, None, 0)
        error: JingError | None = None
        try:
            minimum_calls = self._plan()
        except FATAL_ERRORS as caught:  # a read-back the API refused
            error, minimum_calls = caught, 0
        planned = plan.planned_rows(ledger.con, self.run_id)
        stats: dict[str, int] = {}
        if error is None and self.mode != "dry_run" and minimum_calls:
            error = self._send(planned)
        if self._client is not None:
            stats = self._client.stats()
        fatal = redact(f"{type(error).__name__}: {error}") if error else None
        ledger.refresh_statistics("jing_sync_log", "jing_applied_status", "jing_pending")
        with ledger.transaction() as con:
            if fatal:
                ledger.settle_unlogged(
                    con, self.run_id, "failed", f"not sent: the run stopped: {fatal}", pend=True
                )
            self._summary = self._summarize(minimum_calls, fatal, _stopped_by(error), stats)
            ledger.close_run(
                con, self.run_id, self._summary.status, fatal, self.settings.pending_limits
            )
        self._progress("done", planned, planned, self._summary.update_calls)
        return self._summary

    def _plan(self) -> int:
        """Mark conflicts, bring in pending rows, observe JING, log rejected and unchanged rows,
        cut chunks.

        Each step commits on its own: one transaction over a million rows would
        hold them all in memory. A kill between steps is safe, because recovery
        works from what is durable (staged rows without a log row).
        """
        ledger = self._require_ledger()
        compare = self.mode != "full"
        dry_run = self.mode == "dry_run"
        ledger.refresh_statistics("jing_staged", "jing_pending", "jing_applied_status")
        with ledger.transaction() as con:
            plan.mark_conflicts(con, self.run_id)
        with ledger.shard_activities(), ledger.transaction() as con:
            plan.add_pending(con, self.run_id, self.destination, sharded=self.shard is not None)
        ledger.log_rejected(self.run_id, dry_run=dry_run)
        if compare:
            self._observe()
            ledger.refresh_statistics("jing_staged", "jing_observed", "jing_sync_log")
            with ledger.transaction() as con:
                unchanged = plan.find_unchanged(con, self.run_id, self.destination)
                refused = plan.find_refused(con, self.run_id, self.destination)
            if unchanged:
                ledger.log_unchanged(self.run_id, dry_run=dry_run)
            if refused:
                ledger.log_refused(self.run_id)
            # With neither, every wanted row is sent: the chunks skip nothing.
            compare = unchanged or refused
        if not dry_run and plan.anything_to_send(ledger.con, self.run_id, compare=compare):
            # The token's round trip passes while the chunks are cut, not before the first call.
            self._open_client().fetch_token_ahead()
        with ledger.transaction() as con:
            minimum_calls = plan.make_chunks(
                con, self.run_id, self.settings.batch_size, compare=compare
            )
        ledger.refresh_statistics("jing_work")
        ledger.set_minimum_calls(self.run_id, minimum_calls)
        if dry_run:
            ledger.log_planned(self.run_id)
        return minimum_calls

    def _observe(self) -> None:
        """What JING holds for the wanted rows' activities: the warehouse's extract, a read-back."""
        ledger = self._require_ledger()
        settings = self.settings
        if settings.observed_state is None and not settings.read_back:
            return
        activities = plan.wanted_activities(ledger.con, self.run_id)
        if not activities:
            return
        zone = settings.api_timezone
        arrow_without_pandas()
        from target_jing import observed_state
        from target_jing.read_back import ReadBack

        if settings.observed_state is not None:
            table = observed_state.load(settings, activities)
            label = f"observed in {settings.observed_state} (JING updated it at {{at}})"
            ledger.add_observed(self.run_id, table, label)
        if settings.read_back:
            reader = ReadBack(self._open_client(), ZoneInfo(zone))
            ledger.add_observed(self.run_id, reader.observations(activities), "read back at {at}")

    def _open_client(self) -> JingClient:
        """The run's one client (its pace, cap and token are shared by all its calls)."""
        if self._client is None:
            self._client = JingClient(self.settings.client)
        return self._client

    def _send(self, planned: int) -> JingError | None:
        ledger = self._require_ledger()
        answered_rows = 0
        calls = 0

        def record(answered: list[Answered]) -> None:
            nonlocal answered_rows, calls
            from target_jing.echo_answers import answers_table

            batch_calls = sum(item.calls for item in answered)
            ledger.record_answers(self.run_id, answers_table(answered, zone), batch_calls)
            answered_rows += sum(item.chunk.input_rows for item in answered)
            calls += batch_calls
            self._progress("send", answered_rows, planned, calls)

        client = self._open_client()
        zone = ZoneInfo(self.settings.api_timezone)
        reader = ledger.cursor()
        try:
            with ledger.sending(), self._live_share(client):
                fatal = send_all(
                    Sending(client, zone),
                    plan.iter_chunks(reader, self.run_id, ledger.home),
                    self.settings.max_concurrency,
                    record,
                    prepare=_prepare_recording,
                )
        finally:
            reader.close()
        if self.settings.read_back and not isinstance(fatal, FATAL_ERRORS):
            from target_jing.read_back import ReadBack

            self._settle_unknown(ReadBack(client, zone))
        return fatal

    def _live_share(self, client: JingClient) -> AbstractContextManager[object]:
        """A shard on PostgreSQL shares the budget with the shards running now (`live_share`)."""
        ledger = self._require_ledger()
        if not self.settings.shards_share_budget or not ledger.shares_budget_live:
            return nullcontext()
        return live_share(self._budget.requests_per_second, ledger.sending_shards, client.set_pace)

    def _settle_unknown(self, reader: ReadBack) -> None:
        """Read back the activities of rows whose answer was lost, now that nothing is sent.

        Read while this run still sent, a listing sorted by update time moves under
        the reader (our own writes move its rows), and a user would seem absent.
        """
        ledger = self._require_ledger()
        activities = ledger.unknown_activities(self.run_id)
        if not activities:
            return
        try:
            observed = reader.observations(activities)
        except JingError as error:
            logger.warning("read-back of %d activities failed: %s", len(activities), error)
            return
        ledger.settle_unknown(self.run_id, observed)

    def _summarize(
        self,
        minimum_calls: int,
        fatal: str | None,
        stopped_by: StoppedBy | None,
        stats: dict[str, int],
    ) -> RunSummary:
        ledger = self._require_ledger()
        summary = RunSummary(
            run_id=self.run_id,
            mode=self.mode,
            status="aborted" if fatal else "succeeded",
            counts=ledger.counts(self.run_id),
            rows_in=ledger.staged_count(self.run_id),
            update_calls=ledger.update_calls(self.run_id),
            minimum_calls=minimum_calls,
            seconds=time.monotonic() - self._started,
            fatal_error=fatal,
            api_unreachable=stopped_by == "unreachable",
            ledger_path=str(self.settings.ledger_home),
            client_stats=stats,
            input_counts=ledger.counts(self.run_id, own_only=True),
            input_rows=ledger.staged_count(self.run_id, own_only=True),
            retried=ledger.staged_count(self.run_id)
            - ledger.staged_count(self.run_id, own_only=True),
            stopped_by=stopped_by,
            destination=self.destination,
            reasons=ledger.reason_groups(self.run_id),
        )
        if not fatal and summary.failed_ratio > self.settings.max_failed_ratio:
            return replace(summary, status="failed")
        return summary

    # -- unfinished runs ----------------------------------------------------------------

    def _recover(self) -> None:
        """Finish the record of runs whose process died: log their rows, pend the unsent ones.

        Calls of such a run may have been in flight: the rows that were in a chunk
        and have no answer have an unknown outcome (`Ledger.settle_unlogged`).
        """
        ledger = self._require_ledger()
        with ledger.dead_runs(but=self.run_id) as dead:
            for run_id, mode in dead:
                self._let_calls_land(run_id)
                ledger.refresh_statistics(*WORKING_TABLES)
                with ledger.transaction() as con:
                    self._settle_run(con, run_id, mode, INTERRUPTED)
                    ledger.close_run(
                        con,
                        run_id,
                        "aborted",
                        "the process ended before the run finished (killed?); "
                        f"its unconfirmed rows were moved to jing_pending by run {self.run_id}",
                        self.settings.pending_limits,
                    )

    def _let_calls_land(self, run_id: str) -> None:
        """Wait out the calls a run that died just now may still have in flight.

        Its process is gone (the ledger's lock let us in), but a request it sent can
        still be applied by the API after this run writes the same registration,
        and undo it. So, when the dead run was sending recently, this waits once:
        `read_timeout` (how long the dead run would have waited for an answer), at
        most `LANDING_SECONDS`. A request the API takes longer than that to apply
        can still land late; the next run then sees it (observed_state, read_back).
        """
        last = self._require_ledger().last_sending(run_id)
        wait = min(self.settings.client.read_timeout, LANDING_SECONDS)
        if last is None or (now() - last).total_seconds() > wait + RECENT_DEATH_SECONDS:
            return
        logger.info(
            "run %s died while sending; waiting %.1f s for calls it had in flight to land",
            run_id,
            wait,
        )
        time.sleep(wait)

    def _abort(self, reason: str) -> None:
        """Record this run as aborted with what it knows; its unsent rows become pending."""
        ledger = self._require_ledger()
        ledger.refresh_statistics(*WORKING_TABLES)
        with ledger.transaction() as con:
            self._settle_run(con, self.run_id, self.mode, INTERRUPTED)
            ledger.close_run(con, self.run_id, "aborted", reason, self.settings.pending_limits)

    def _settle_run(
        self, con: duckdb.DuckDBPyConnection, run_id: str, mode: str, reason: str
    ) -> None:
        ledger = self._require_ledger()
        plan.mark_conflicts(con, run_id)
        if mode == "dry_run":
            ledger.settle_unlogged(con, run_id, "planned", "the dry run ended early", pend=False)
        else:
            ledger.settle_unlogged(con, run_id, "failed", reason, pend=True, maybe_sent=True)

    # -- helpers ------------------------------------------------------------------------

    def _require_open(self) -> Ledger:
        """The ledger of a run that has not finished: rows can still come in."""
        if self._summary is not None:
            raise RuntimeError(f"run {self.run_id} has finished: start a new SyncRun")
        return self._require_ledger()

    def _require_ledger(self) -> Ledger:
        if self._ledger is None:
            raise RuntimeError("use SyncRun as a context manager: `with SyncRun(...) as run:`")
        return self._ledger

    def _progress(self, phase: str, done: int, total: int | None, calls: int) -> None:
        if self._on_progress is not None:
            self._on_progress(Progress(phase, done, total, calls))  # type: ignore[arg-type]


def _check_source(source: str) -> None:
    if source == PENDING_SOURCE:
        raise ValueError(f"source {PENDING_SOURCE!r} is reserved for retried pending rows")


def _prepare_recording() -> None:
    """Import what recording answers needs (pyarrow, 20-70 ms), while the first calls are out.

    Imported at the start instead, it would delay every call by as much; a run with
    nothing to send never imports it. `target-jing sync` has it imported without numpy
    (`pyarrow_private.without_numpy`).
    """
    with without_numpy():
        arrow_without_pandas()
        load_compute()
        import target_jing.echo_answers  # noqa: F401 (imported for its cost, now)


def _readable(relation: duckdb.DuckDBPyRelation, settings: TargetSettings) -> Any:
    """`relation` with each id column that is not already text cast to VARCHAR, and each
    time column that holds an infinity too.

    DuckDB's 'infinity' has no Python or pandas time, so reading such a column would
    stop the run; as text it reaches the row checks, which refuse its rows alone.
    """
    ids = {c for field in KEY_FIELDS for c in settings.columns[field]}
    kinds = dict(zip(relation.columns, map(str, relation.types), strict=True))
    text = {name for name, kind in kinds.items() if name in ids and kind != "VARCHAR"}
    times = [name for name, kind in kinds.items() if kind.startswith(("DATE", "TIMESTAMP"))]
    if times:
        # fetchall: DuckDB 2's relations have no fetchone().
        (found,) = relation.aggregate(
            ", ".join(f"bool_or(isinf({quote_identifier(name)}))" for name in times)
        ).fetchall()
        text |= {name for name, infinite in zip(times, found, strict=True) if infinite}
    if not text:
        return relation
    parts = [
        f"CAST({quote_identifier(name)} AS VARCHAR) AS {quote_identifier(name)}"
        if name in text
        else quote_identifier(name)
        for name in relation.columns
    ]
    return relation.project(", ".join(parts))


def _stopped_by(error: JingError | None) -> StoppedBy | None:
    if error is None:
        return None
    if isinstance(error, ApiUnreachable):
        return "unreachable"
    return "config" if isinstance(error, JingConfigError) else "auth"


def _new_run_id() -> str:
    """Sortable by start time, so the ledger's runs and log read in order."""
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}"


__all__ = ["MODES", "OUTCOMES", "Mode", "Progress", "RunSummary", "Summary", "SyncRun"]
