"""The ledger: the tables that remember every run, every row and what JING holds.

They are a DuckDB file by default, or a schema of a PostgreSQL database
(`ledger_home`); the statements are one set, in the SQL that DuckDB and
PostgreSQL share, and who may run at once is DuckDB's file lock or PostgreSQL's
advisory locks (`ledger_locks`).

Users query it beside their warehouse (`jing_sync_runs`, `jing_sync_log`,
`jing_applied_status`, `jing_pending`, `jing_pending_actions`). The engine also
keeps its working rows here (`jing_staged`, `jing_work`, `jing_calls`,
`jing_observed`) rather than in memory, so a run of a million rows
stays small, and a run killed at any moment leaves on disk all that the next run
needs to finish its work.

This module owns every write to the user-facing tables; the plan and the
engine compute and ask. Every run, confirmation and pending row carries its
destination (`app_id@base_url`), and a `Ledger` reads and writes only its own
destination's, so one file can serve a sandbox and production without mixing
them.

A row's states (wanted, rejected, unchanged, sent, confirmed, unknown, pending,
given_up, permanent, superseded) and what moves it from one to another are the
table "A row's states" of docs/ARCHITECTURE.md; this module is where each move
is written.

Given-up and permanent rows are not retried automatically: `target-jing pending
retry` puts them back, `pending drop` removes them; each action is logged in
`jing_pending_actions`.

Only the thread that owns a `Ledger` touches it: DuckDB connections are not
thread-safe, and one writer makes every transaction's effect easy to reason about.
The shards of one write-back on PostgreSQL write at once, each its own run's rows
and its own activities' knowledge and pending rows, so no two transactions ever
change the same row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import duckdb

from jing_client import JingConfigError
from target_jing.ledger_home import (
    LedgerConnection,
    LedgerHome,
    Rows,
    open_database,
    release,
    stream,
)
from target_jing.postgres_url import needs_postgres_extra
from target_jing.pyarrow_private import arrow_without_pandas, call
from target_jing.settings import WANTED_FIELDS, PendingLimits
from target_jing.shards import Shard

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from target_jing.ledger_locks import LedgerLocks

SCHEMA_VERSION = 5

#: Outcomes a log row can have; `planned` only in a dry run.
OUTCOMES: tuple[str, ...] = ("applied", "unchanged", "failed", "rejected", "planned", "superseded")
#: Why a failed row failed, in `jing_sync_log.failure` and `jing_pending.failure`.
RETRYABLE, UNKNOWN, PERMANENT = "retryable", "unknown", "permanent"
#: States of a row of `jing_pending`.
PENDING_STATES: tuple[str, ...] = ("pending", "given_up", "permanent")

_FIELDS_DDL = ", ".join(f"{name} VARCHAR" for name in WANTED_FIELDS)
_FIELDS = ", ".join(WANTED_FIELDS)
_KEY = "entity_uuid, omni_user_uuid"


def fields_of(alias: str) -> str:
    """The wanted fields as columns of `alias`, for a SELECT list."""
    return ", ".join(f"{alias}.{name}" for name in WANTED_FIELDS)


_LOG_COLUMNS = (
    f"run_id, row_index, source, {_KEY}, {_FIELDS}, outcome, reason, request_id, chunk_id, "
    "logged_at, failure"
)
_APPLIED_COLUMNS = f"{_KEY}, {_FIELDS}, jing_uuid, confirmed_at, run_id, destination, basis"
_PENDING_COLUMNS = (
    f"{_KEY}, {_FIELDS}, first_run_id, last_run_id, attempts, last_reason, destination, state, "
    "failure, first_wanted_at"
)

#: The plan: one row per chunk (one update call), its users as a list, in chunk order.
_WORK_DDL = f"""CREATE TABLE IF NOT EXISTS jing_work (
    run_id VARCHAR NOT NULL, chunk_id BIGINT NOT NULL, entity_uuid VARCHAR NOT NULL,
    {_FIELDS_DDL}, input_rows BIGINT NOT NULL, user_ids VARCHAR[] NOT NULL)"""
#: Each user of each chunk, as a row: (run_id, chunk_id, entity_uuid, omni_user_uuid).
_CHUNK_USERS = (
    "SELECT run_id, chunk_id, entity_uuid, unnest(user_ids) AS omni_user_uuid FROM jing_work"
)

#: `Ledger.input_rows`' sorted copy of a run's wanted input rows (a temporary table).
_INPUT_ROWS = "jing_input_rows"

# New columns go last, so that a ledger of an older version upgraded in place
# (`_MIGRATIONS`) and a new one have the same column order.
SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS jing_schema_version (
        version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS jing_sync_runs (
        run_id VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL, ended_at TIMESTAMPTZ,
        mode VARCHAR NOT NULL, status VARCHAR NOT NULL,
        rows_in BIGINT DEFAULT 0, applied BIGINT DEFAULT 0, unchanged BIGINT DEFAULT 0,
        failed BIGINT DEFAULT 0, rejected BIGINT DEFAULT 0, planned BIGINT DEFAULT 0,
        update_calls BIGINT DEFAULT 0, minimum_calls BIGINT DEFAULT 0, fatal_error VARCHAR,
        destination VARCHAR, superseded BIGINT DEFAULT 0, retried BIGINT DEFAULT 0,
        sending_since TIMESTAMPTZ, shard VARCHAR)""",
    f"""CREATE TABLE IF NOT EXISTS jing_sync_log (
        run_id VARCHAR NOT NULL, row_index BIGINT, source VARCHAR NOT NULL,
        entity_uuid VARCHAR, omni_user_uuid VARCHAR, {_FIELDS_DDL},
        outcome VARCHAR NOT NULL, reason VARCHAR, request_id VARCHAR, chunk_id BIGINT,
        logged_at TIMESTAMPTZ NOT NULL, failure VARCHAR)""",
    f"""CREATE TABLE IF NOT EXISTS jing_applied_status (
        entity_uuid VARCHAR NOT NULL, omni_user_uuid VARCHAR NOT NULL, {_FIELDS_DDL},
        jing_uuid VARCHAR, confirmed_at TIMESTAMPTZ NOT NULL, run_id VARCHAR NOT NULL,
        destination VARCHAR, basis VARCHAR DEFAULT 'confirmed')""",
    f"""CREATE TABLE IF NOT EXISTS jing_pending (
        entity_uuid VARCHAR NOT NULL, omni_user_uuid VARCHAR NOT NULL, {_FIELDS_DDL},
        first_run_id VARCHAR NOT NULL, last_run_id VARCHAR NOT NULL,
        attempts INTEGER NOT NULL, last_reason VARCHAR,
        destination VARCHAR, state VARCHAR DEFAULT 'pending', failure VARCHAR,
        first_wanted_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS jing_pending_actions (
        acted_at TIMESTAMPTZ NOT NULL, action VARCHAR NOT NULL, destination VARCHAR,
        entity_uuid VARCHAR NOT NULL, omni_user_uuid VARCHAR NOT NULL,
        state_before VARCHAR, reason_before VARCHAR)""",
    # Working tables: rows of runs not yet finished (emptied when a run ends).
    f"""CREATE TABLE IF NOT EXISTS jing_staged (
        run_id VARCHAR NOT NULL, row_index BIGINT NOT NULL, source VARCHAR NOT NULL,
        entity_uuid VARCHAR, omni_user_uuid VARCHAR, {_FIELDS_DDL}, reason VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS jing_calls (run_id VARCHAR NOT NULL, calls BIGINT NOT NULL)""",
    _WORK_DDL,
    f"""CREATE TABLE IF NOT EXISTS jing_observed (
        run_id VARCHAR NOT NULL, entity_uuid VARCHAR NOT NULL, omni_user_uuid VARCHAR NOT NULL,
        {_FIELDS_DDL}, observed_at TIMESTAMPTZ NOT NULL, known_by VARCHAR NOT NULL)""",
)

#: On PostgreSQL, an index on what grows with every run and is read by run: the log and
#: the runs; and on the staged rows by registration, which each batch of answers looks
#: up (a few hundred calls' users among all the run's). (Knowledge and pending rows are
#: read by joins that scan them anyway; on a DuckDB file a scan of the staged rows costs
#: less than an index kept up on every append.)
POSTGRES_INDEXES: tuple[str, ...] = (
    "CREATE INDEX IF NOT EXISTS jing_sync_log_run ON jing_sync_log (run_id)",
    "CREATE INDEX IF NOT EXISTS jing_sync_runs_run ON jing_sync_runs (run_id)",
    "CREATE INDEX IF NOT EXISTS jing_staged_key ON jing_staged (run_id, entity_uuid, "
    "omni_user_uuid)",
)

#: Each version's upgrade of the one before. 1 -> 2: destinations, the basis of what is
#: known, pending states and limits.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: (
        "ALTER TABLE jing_sync_runs ADD COLUMN IF NOT EXISTS destination VARCHAR",
        "ALTER TABLE jing_sync_runs ADD COLUMN IF NOT EXISTS superseded BIGINT DEFAULT 0",
        "ALTER TABLE jing_sync_runs ADD COLUMN IF NOT EXISTS retried BIGINT DEFAULT 0",
        "ALTER TABLE jing_sync_runs ADD COLUMN IF NOT EXISTS sending_since TIMESTAMPTZ",
        "ALTER TABLE jing_sync_log ADD COLUMN IF NOT EXISTS failure VARCHAR",
        "ALTER TABLE jing_applied_status ADD COLUMN IF NOT EXISTS destination VARCHAR",
        "ALTER TABLE jing_applied_status ADD COLUMN IF NOT EXISTS basis VARCHAR "
        "DEFAULT 'confirmed'",
        "ALTER TABLE jing_pending ADD COLUMN IF NOT EXISTS destination VARCHAR",
        "ALTER TABLE jing_pending ADD COLUMN IF NOT EXISTS state VARCHAR DEFAULT 'pending'",
        "ALTER TABLE jing_pending ADD COLUMN IF NOT EXISTS failure VARCHAR",
        "ALTER TABLE jing_pending ADD COLUMN IF NOT EXISTS first_wanted_at TIMESTAMPTZ",
    ),
    # Version 2 -> 3: the shard (`K/N`) of a run, so that a run recovers only dead runs.
    3: ("ALTER TABLE jing_sync_runs ADD COLUMN IF NOT EXISTS shard VARCHAR",),
    # 3 -> 4: the plan is written once, as jing_work; its first draft (jing_plan) goes.
    4: ("DROP TABLE IF EXISTS jing_plan",),
    # 4 -> 5: jing_work holds one row per chunk (`_REGROUP_PLAN` converts a row per user).
    5: (),
}
#: Version 5's conversion of a plan of one row per input row (versions 3 and 4) into
#: one row per chunk, so that a dead run's chunks are still known to its recovery.
_REGROUP_PLAN: tuple[str, ...] = (
    "ALTER TABLE jing_work RENAME TO jing_work_rows",
    _WORK_DDL,
    f"""INSERT INTO jing_work
        SELECT run_id, chunk_id, entity_uuid, {_FIELDS}, count(*),
               array_agg(DISTINCT omni_user_uuid ORDER BY omni_user_uuid)
        FROM jing_work_rows GROUP BY run_id, chunk_id, entity_uuid, {_FIELDS}
        ORDER BY run_id, chunk_id""",
    "DROP TABLE jing_work_rows",
)

#: Columns of the table `record_answers` takes: one row per registration answered.
ANSWER_COLUMNS: tuple[str, ...] = (
    "chunk_id",
    "entity_uuid",
    "omni_user_uuid",
    *WANTED_FIELDS,
    "outcome",
    "reason",
    "request_id",
    "failure",
    "basis",
    "jing_uuid",
    *(f"echo_{name}" for name in WANTED_FIELDS),
)

#: The `source` of retried rows from `jing_pending` in the log.
PENDING_SOURCE = "pending"

#: The table a sharded run's plan reads its shard's activities from (`shard_activities`).
SHARD_ACTIVITIES = "shard_activities"

INTERRUPTED = "the run ended before this row was confirmed; it stays pending and is retried"


@dataclass(frozen=True)
class PendingFilter:
    """Which rows of `jing_pending` a `pending` command acts on (None: any)."""

    activity: str | None = None
    user: str | None = None
    state: str | None = None
    reason: str | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses, params = ["destination = $dest"], {}
        for column, value in (
            ("entity_uuid", self.activity),
            ("omni_user_uuid", self.user),
            ("state", self.state),
        ):
            if value is not None:
                clauses.append(f"{column} = ${column}")
                params[column] = value
        if self.reason is not None:
            clauses.append("strpos(lower(last_reason), lower($reason)) > 0")
            params["reason"] = self.reason
        return " AND ".join(clauses), params


def scalar(con: LedgerConnection, sql: str, params: Any = None) -> Any:
    """The one value of a one-row query, the result read to its end.

    A result left unread (as `fetchone` leaves it) blocks the next use of the
    connection, such as registering a table.
    """
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def any_row(con: LedgerConnection, query: str, params: Any = None) -> bool:
    """Whether `query` (a SELECT of one table, no join) has a row; it stops at the first.

    Not for a join: PostgreSQL plans a LIMIT, as an EXISTS, for a first row soon found,
    and a join that finds none then runs row by row (see `plan.anything_to_send`).
    """
    return bool(scalar(con, f"SELECT count(*) FROM ({query} LIMIT 1) AS found", params))


#: Rows fetched at a time by `iter_dict_rows`.
FETCH_ROWS = 2_000


def iter_dict_rows(cursor: Rows) -> Iterator[dict[str, Any]]:
    """The rows of an executed query as dicts, a batch at a time (a run's log may be millions)."""
    names = [column[0] for column in cursor.description]
    while batch := cursor.fetchmany(FETCH_ROWS):
        for row in batch:
            yield dict(zip(names, row, strict=True))


def now() -> datetime:
    return datetime.now(UTC)


class Ledger:
    """An open ledger of one destination; the schema is created (or upgraded) on open.

    A run of `shard` (None: not sharded) takes its place among the runs of the
    destination: on a DuckDB file it is the one run, on PostgreSQL it holds its
    advisory locks until `close`.
    """

    def __init__(self, home: LedgerHome, destination: str, shard: Shard | None = None) -> None:
        self.home = home
        self.destination = destination
        self.shard = shard
        #: The run whose input rows `input_rows` has copied, sorted (a DuckDB file only).
        self._rows_sorted_for: str | None = None
        with ExitStack() as undo:  # a failed open leaves nothing open
            self._locks = _locks_for(home, destination)
            if self._locks is not None:
                undo.callback(self._locks.close)
            with self._locks.entering(shard) if self._locks else nullcontext():
                self.con = open_database(home)
                undo.callback(self._close_database)
                self._create_schema()
            undo.pop_all()

    def close(self) -> None:
        self._close_database()
        if self._locks is not None:
            self._locks.close()

    def _close_database(self) -> None:
        self.con.close()
        release(self.home)

    @property
    def shares_budget_live(self) -> bool:
        """Whether the shards of this run's count can tell which of them are sending."""
        return self._locks is not None and self.shard is not None

    @contextmanager
    def sending(self) -> Iterator[None]:
        """This run sends in the block: the other shards see it (`sending_shards`)."""
        if self._locks is None or self.shard is None:
            yield
            return
        with self._locks.sending(self.shard):
            yield

    def sending_shards(self) -> int | None:
        """On PostgreSQL, how many shards of this run's count are sending now (None: unknown)."""
        if self._locks is None or self.shard is None:
            return None
        return self._locks.sending_shards(self.shard.count)

    def cursor(self) -> LedgerConnection:
        """A second connection to the ledger, for reading while the first one writes."""
        return self.con.cursor()

    def _create_schema(self) -> None:
        with self.transaction():
            # One look at the catalog serves both questions: which version, which shape.
            found = self._columns()
            version = None
            if "jing_schema_version" in found:
                version = scalar(self.con, "SELECT max(version) FROM jing_schema_version")
            if version is not None and version > SCHEMA_VERSION:
                raise JingConfigError(
                    f"setting '{self.home.setting}': {self.home} has ledger schema version "
                    f"{version}; this target-jing knows up to {SCHEMA_VERSION}: upgrade target-jing"
                )
            if version == SCHEMA_VERSION:
                self._check_shape(found)  # nothing to create: each statement is a round trip on PG
                return
            # No table at all: what is made below is the ledger's own, so there is no
            # other shape to refuse and no older plan to regroup (a new ledger's start).
            for statement in SCHEMA:
                self.con.execute(statement)
            # Each step only adds what is missing, so it is safe on any ledger of its version.
            for step in range(2, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[step]:
                    self.con.execute(statement)
            if "row_index" in found.get("jing_work", set()):
                for statement in _REGROUP_PLAN:
                    self.con.execute(statement)
            for statement in POSTGRES_INDEXES if self.home.on_postgres else ():
                self.con.execute(statement)
            if found:
                self._check_shape()
            self.con.execute(
                "INSERT INTO jing_schema_version VALUES (?, ?)", [SCHEMA_VERSION, now()]
            )

    def _check_shape(self, found: dict[str, set[str]] | None = None) -> None:
        """Refuse tables of the ledger's names but another shape (another tool's, or edited).

        Without this, such a table fails a statement deep inside the run, with a
        binder error that names neither the table nor what to do. `found` is the
        ledger's columns (`_columns`) when they were just read.
        """
        found = self._columns() if found is None else found
        for table, columns in expected_columns(self.con).items():
            missing = [c for c in columns if c not in found.get(table, set())]
            if missing:
                raise JingConfigError(
                    f"setting '{self.home.setting}': the table {table} in {self.home} is not a "
                    f"target-jing ledger table: it lacks the columns {', '.join(missing)}. "
                    "Point the setting at another ledger, or move that table away"
                )

    def _columns(self) -> dict[str, set[str]]:
        """The columns of each table of the ledger's schema, by table."""
        found: dict[str, set[str]] = {}
        for table, column in self.con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_catalog = current_database() AND table_schema = current_schema()"
        ).fetchall():
            found.setdefault(table, set()).add(column)
        return found

    @contextmanager
    def transaction(self) -> Iterator[LedgerConnection]:
        """All statements in the block commit together or not at all."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def refresh_statistics(self, *tables: str) -> None:
        """On PostgreSQL, let the planner see what a bulk step wrote (DuckDB needs nothing).

        A working table that grew from nothing to 100,000 rows within a run keeps
        the statistics of its empty self until autovacuum comes by, and the planner
        then joins it row by row: `plan.mark_conflicts` ran for minutes.
        """
        if self.home.on_postgres:
            self.con.execute(f"ANALYZE {', '.join(tables)}")

    def _params(self, run_id: str | None = None, **more: Any) -> dict[str, Any]:
        params = {"dest": self.destination, **more}
        if run_id is not None:
            params["run"] = run_id
        return params

    # -- runs ---------------------------------------------------------------------------

    def start_run(self, run_id: str, mode: str, started_at: datetime) -> None:
        shard = None if self.shard is None else str(self.shard)
        with self.transaction() as con:
            con.execute(
                "INSERT INTO jing_sync_runs (run_id, started_at, mode, status, destination, shard) "
                "VALUES (?, ?, ?, 'running', ?, ?)",
                [run_id, started_at, mode, self.destination, shard],
            )

    def stage(self, run_id: str, frame: pd.DataFrame | pa.Table) -> None:
        """Append checked rows (`STAGED_COLUMNS`) to `jing_staged`, in one transaction."""
        with self._registered("staged_batch", frame), self.transaction() as con:
            con.execute(
                f"INSERT INTO jing_staged SELECT ?, row_index, source, entity_uuid, "
                f"omni_user_uuid, {_FIELDS}, reason FROM staged_batch",
                [run_id],
            )

    def stage_plain(self, run_id: str, source: str, stream: object) -> None:
        """Append the rows of an Arrow C stream of staged rows (`plain_relation`), in one
        transaction. DuckDB only: it scans the stream that another DuckDB exports."""
        with self._registered("staged_stream", stream), self.transaction() as con:
            con.execute(
                f"INSERT INTO jing_staged SELECT ?, row_index, ?, {_KEY}, {_FIELDS}, NULL "
                "FROM staged_stream",
                [run_id, source],
            )

    @contextmanager
    def _registered(self, name: str, data: object) -> Iterator[None]:
        """Make in-memory `data` (a pandas frame, an Arrow table or an Arrow C stream) a
        view for the block (around, not inside, a transaction: a failed transaction
        refuses even the unregistering)."""
        self.con.register(name, data)
        try:
            yield
        finally:
            self.con.unregister(name)

    @contextmanager
    def shard_activities(self) -> Iterator[None]:
        """For the block, the table `SHARD_ACTIVITIES`: the activities of this run's shard
        that have pending rows (none when the run is not sharded: it takes them all)."""
        if self.shard is None:
            yield
            return
        rows = self.con.execute(
            "SELECT DISTINCT entity_uuid FROM jing_pending WHERE destination = ? "
            "AND state = 'pending'",
            [self.destination],
        ).fetchall()
        mine = [activity for (activity,) in rows if self.shard.holds(activity)]
        arrow_without_pandas()
        import pyarrow as pa

        table = pa.table({"entity_uuid": pa.array(mine, pa.string())})
        with self._registered(SHARD_ACTIVITIES, table):
            yield

    def unstage(self, run_id: str, source: str, from_index: int) -> None:
        """Take back the rows of one `add_*` call that failed part-way."""
        with self.transaction() as con:
            con.execute(
                "DELETE FROM jing_staged WHERE run_id = ? AND source = ? AND row_index >= ?",
                [run_id, source, from_index],
            )

    def counts(self, run_id: str, *, own_only: bool = False) -> dict[str, int]:
        """Log rows of a run by outcome (every outcome present, zero when none).

        With `own_only`, the run's own input rows, not the pending rows it retried.
        """
        own = "AND source <> $pending" if own_only else ""
        found = dict(
            self.con.execute(
                "SELECT outcome, count(*) FROM jing_sync_log WHERE run_id = $run "
                f"{own} GROUP BY outcome",
                {"run": run_id, "pending": PENDING_SOURCE} if own_only else {"run": run_id},
            ).fetchall()
        )
        return {outcome: int(found.get(outcome, 0)) for outcome in OUTCOMES}

    def staged_count(
        self, run_id: str, *, own_only: bool = False, pending_only: bool = False
    ) -> int:
        """Rows of a run: all, its own input only, or only the pending rows it retried."""
        which = " AND source <> ?" if own_only else " AND source = ?" if pending_only else ""
        params = [run_id, PENDING_SOURCE] if which else [run_id]
        return int(
            scalar(self.con, f"SELECT count(*) FROM jing_staged WHERE run_id = ?{which}", params)
        )

    def reason_groups(self, run_id: str, limit: int = 10) -> list[dict[str, Any]]:
        """Why rows of a run failed or were rejected: grouped, most frequent first.

        Each group has the outcome, the reason (without the row's number and the
        call's request_id, which differ row by row), the count and up to 3 example
        rows as [activity, user].
        """
        rows = self.con.execute(
            """
            WITH why AS (
                SELECT outcome, entity_uuid, omni_user_uuid,
                       regexp_replace(regexp_replace(coalesce(reason, ''),
                           '^row [0-9]+? of .*?: ', ''), ' request_id=[0-9A-Za-z]+', '', 'g')
                           AS reason
                FROM jing_sync_log
                WHERE run_id = $run AND outcome IN ('failed', 'rejected', 'superseded')
            ), ranked AS (
                SELECT outcome, reason, entity_uuid, omni_user_uuid,
                       count(*) OVER (PARTITION BY outcome, reason) AS rows,
                       row_number() OVER (PARTITION BY outcome, reason
                                          ORDER BY entity_uuid, omni_user_uuid) AS n
                FROM why
            )
            SELECT outcome, reason, rows, entity_uuid, omni_user_uuid FROM ranked
            WHERE n <= 3 ORDER BY rows DESC, outcome, reason, n
            """,
            {"run": run_id},
        ).fetchall()
        groups: dict[tuple[str, str], dict[str, Any]] = {}
        for outcome, reason, count, activity, user in rows:
            group = groups.get((outcome, reason))
            if group is None:
                if len(groups) == limit:
                    break
                group = {"outcome": outcome, "reason": reason, "rows": int(count), "examples": []}
                groups[(outcome, reason)] = group
            group["examples"].append([activity, user])
        return list(groups.values())

    def update_calls(self, run_id: str) -> int:
        sql = "SELECT coalesce(sum(calls), 0) FROM jing_calls WHERE run_id = ?"
        return int(scalar(self.con, sql, [run_id]))

    def set_minimum_calls(self, run_id: str, minimum_calls: int) -> None:
        """The plan is made: note its calls, and that calls may be in flight from now on."""
        with self.transaction() as con:
            con.execute(
                "UPDATE jing_sync_runs SET minimum_calls = ?, sending_since = now() "
                "WHERE run_id = ?",
                [minimum_calls, run_id],
            )

    def last_sending(self, run_id: str) -> datetime | None:
        """When an unfinished run was last known to be sending (None: it never planned calls)."""
        return scalar(
            self.con,
            """
            SELECT greatest(r.sending_since, (SELECT max(logged_at) FROM jing_sync_log
                                              WHERE run_id = $run))
            FROM jing_sync_runs AS r
            WHERE r.run_id = $run AND EXISTS (SELECT 1 FROM jing_work WHERE run_id = $run)
            """,
            {"run": run_id},
        )

    def close_run(
        self,
        con: LedgerConnection,
        run_id: str,
        status: str,
        fatal_error: str | None,
        limits: PendingLimits | None = None,
    ) -> None:
        """Write a run's final row from its log and drop its working rows (inside `con`'s
        transaction, so a run is either finished with all its log rows or not at all)."""
        con.execute(
            f"""
            UPDATE jing_sync_runs SET
                ended_at = $ended, status = $status, fatal_error = $fatal,
                rows_in = (SELECT count(*) FROM jing_staged WHERE run_id = $run),
                update_calls = (SELECT coalesce(sum(calls), 0) FROM jing_calls
                                WHERE run_id = $run),
                applied = c.applied, unchanged = c.unchanged, failed = c.failed,
                rejected = c.rejected, planned = c.planned, superseded = c.superseded,
                retried = c.retried
            FROM (
                SELECT count(*) FILTER (WHERE outcome = 'applied') AS applied,
                       count(*) FILTER (WHERE outcome = 'unchanged') AS unchanged,
                       count(*) FILTER (WHERE outcome = 'failed') AS failed,
                       count(*) FILTER (WHERE outcome = 'rejected') AS rejected,
                       count(*) FILTER (WHERE outcome = 'planned') AS planned,
                       count(*) FILTER (WHERE outcome = 'superseded') AS superseded,
                       count(*) FILTER (WHERE source = '{PENDING_SOURCE}') AS retried
                FROM jing_sync_log WHERE run_id = $run
            ) AS c
            WHERE run_id = $run
            """,
            {"ended": now(), "status": status, "fatal": fatal_error, "run": run_id},
        )
        # A run appends what it learnt of JING; now the older rows of those users go (when
        # there are older rows: a destination's first run would join 100,000 for none).
        older = "SELECT 1 FROM jing_applied_status WHERE destination = $dest AND run_id <> $run"
        if any_row(con, older, self._params(run_id)):
            con.execute(
                """
                DELETE FROM jing_applied_status AS s
                USING (SELECT DISTINCT entity_uuid, omni_user_uuid FROM jing_applied_status
                       WHERE run_id = $run AND destination = $dest) AS k
                WHERE s.entity_uuid = k.entity_uuid AND s.omni_user_uuid = k.omni_user_uuid
                  AND s.destination = $dest AND s.run_id <> $run
                """,
                self._params(run_id),
            )
        # Of several rows a run learnt for one user, the newest stays.
        con.execute(
            f"""
            DELETE FROM jing_applied_status AS s
            USING (SELECT {_KEY}, max(confirmed_at) AS newest FROM jing_applied_status
                   WHERE run_id = $run AND destination = $dest GROUP BY {_KEY}
                   HAVING count(*) > 1) AS k
            WHERE s.entity_uuid = k.entity_uuid AND s.omni_user_uuid = k.omni_user_uuid
              AND s.destination = $dest AND s.run_id = $run AND s.confirmed_at < k.newest
            """,
            self._params(run_id),
        )
        self._compact_pending(con, run_id, limits)
        for table in ("jing_staged", "jing_work", "jing_calls", "jing_observed"):
            con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])

    # -- plan ---------------------------------------------------------------------------

    def log_rejected(self, run_id: str, *, dry_run: bool) -> None:
        """Log rejected rows; a pending row a newer input row superseded is logged and withdrawn.

        `plan.add_pending` staged such a pending row with the reason; whatever the
        newer row's fate, the older wish is no longer what the input asks for.
        """
        with self.transaction() as con:
            con.execute(
                f"""
                INSERT INTO jing_sync_log ({_LOG_COLUMNS})
                SELECT run_id, row_index, source, {_KEY}, {_FIELDS},
                       CASE WHEN source = $pending THEN 'superseded' ELSE 'rejected' END,
                       reason, NULL, NULL, now(), NULL
                FROM jing_staged WHERE run_id = $run AND reason IS NOT NULL
                """,
                {"run": run_id, "pending": PENDING_SOURCE},
            )
            if not dry_run:
                con.execute(
                    f"""
                    DELETE FROM jing_pending AS p
                    USING (SELECT {_KEY} FROM jing_staged WHERE run_id = $run
                           AND source = $pending AND reason IS NOT NULL) AS s
                    WHERE p.destination = $dest AND p.state = 'pending'
                      AND p.entity_uuid = s.entity_uuid AND p.omni_user_uuid = s.omni_user_uuid
                    """,
                    self._params(run_id, pending=PENDING_SOURCE),
                )

    def log_unchanged(self, run_id: str, *, dry_run: bool) -> None:
        """Log `unchanged` for the registrations of the temp table `unchanged_keys`.

        `plan.find_unchanged` wrote it: registrations whose newest knowledge of JING
        holds their wanted values, with where that knowledge came from. They leave
        `jing_pending` (not in a dry run).
        """
        with self.transaction() as con:
            con.execute(
                f"""
                INSERT INTO jing_sync_log ({_LOG_COLUMNS})
                SELECT s.run_id, s.row_index, s.source, {_KEY},
                       {fields_of("s")}, 'unchanged',
                       'JING already holds these values (' || u.known_by || ')',
                       NULL, NULL, now(), NULL
                FROM jing_staged AS s JOIN unchanged_keys AS u USING ({_KEY})
                WHERE s.run_id = $run AND s.reason IS NULL
                """,
                {"run": run_id},
            )
            if not dry_run:
                con.execute(
                    "DELETE FROM jing_pending AS p USING unchanged_keys AS u "
                    "WHERE p.destination = $dest AND p.entity_uuid = u.entity_uuid "
                    "AND p.omni_user_uuid = u.omni_user_uuid",
                    self._params(),
                )

    def log_refused(self, run_id: str) -> None:
        """Log `failed` (permanent) for the rows of the temp table `refused_keys`, unsent."""
        with self.transaction() as con:
            con.execute(
                f"""
                INSERT INTO jing_sync_log ({_LOG_COLUMNS})
                SELECT s.run_id, s.row_index, s.source, {_KEY},
                       {fields_of("s")}, 'failed', r.reason,
                       NULL, NULL, now(), '{PERMANENT}'
                FROM jing_staged AS s JOIN refused_keys AS r USING ({_KEY})
                WHERE s.run_id = $run AND s.reason IS NULL
                """,
                {"run": run_id},
            )

    def log_planned(self, run_id: str) -> None:
        """A dry run's log: each row to send, with the chunk (call) it would go in."""
        with self.transaction() as con:
            con.execute(
                f"""
                INSERT INTO jing_sync_log ({_LOG_COLUMNS})
                SELECT s.run_id, s.row_index, s.source, {_KEY}, {fields_of("s")}, 'planned',
                       NULL, NULL, c.chunk_id, now(), NULL
                FROM jing_staged AS s JOIN ({_CHUNK_USERS} WHERE run_id = $run) AS c
                    USING ({_KEY})
                WHERE s.run_id = $run AND s.reason IS NULL
                """,
                {"run": run_id},
            )

    def add_observed(self, run_id: str, observed: pa.Table, known_by: str) -> int:
        """Keep what JING was seen to hold (an extract or a read-back) for this run's plan.

        `observed` has `entity_uuid`, `omni_user_uuid`, the wanted fields (API strings)
        and `observed_at`; `known_by` says where it came from, for the log's reasons.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        prefix, at, suffix = known_by.partition("{at}")
        labels = (
            pc.binary_join_element_wise(prefix, _stamps(observed), suffix, "")
            if at
            else pa.array([known_by] * observed.num_rows, pa.string())
        )
        batch = observed.append_column("known_by", labels)
        with self._registered("observed_batch", batch), self.transaction() as con:
            con.execute(
                f"""
                INSERT INTO jing_observed
                SELECT $run, {_KEY}, {_FIELDS}, observed_at, known_by FROM observed_batch
                """,
                {"run": run_id},
            )
        return observed.num_rows

    # -- answers ------------------------------------------------------------------------

    def input_rows(self, run_id: str) -> str:
        """The run's wanted input rows (`row_index`, `source` and the registration), as a
        table to join answers to; the query binds `$run`.

        On a DuckDB file a temporary copy, sorted by activity, made at the run's first
        record. Why: the chunks go out in activity order, so a batch of answers holds a
        few activities, and DuckDB's join then reads only the row groups of the copy
        that hold them, where each record would scan every wanted row of the run in
        `jing_staged` (at 1,000,000 rows, 67 ms of a record's 146; the copy costs 0.44 s
        once). Nothing after the plan changes the staged rows, so the copy stays true.
        PostgreSQL finds them by its index on the staged rows.
        """
        staged = (
            f"(SELECT row_index, source, {_KEY} FROM jing_staged "
            "WHERE run_id = $run AND reason IS NULL)"
        )
        if self.home.on_postgres:
            return staged
        if self._rows_sorted_for != run_id:
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {_INPUT_ROWS} AS "
                f"SELECT * FROM {staged} ORDER BY entity_uuid",
                {"run": run_id},
            )
            self._rows_sorted_for = run_id
        return _INPUT_ROWS

    def record_answers(self, run_id: str, answers: pa.Table, calls: int) -> None:
        """Log, confirm, mark unknown and (un)pend the rows of answered chunks, in one transaction.

        `answers` holds one row per registration answered (each registration is in one
        chunk, so once), with `ANSWER_COLUMNS`; each input row behind it (its staged
        rows: the wanted rows of a registration are one wish) is logged with its
        answer. A failure whose outcome is unknown makes its users' state unknown, so no
        older confirmation can make a later run call them unchanged. This runs after every
        few calls, so it only appends: confirmed users leave `jing_pending`, and older
        knowledge goes, when the run closes (`close_run`).
        """
        failed = call("any", call("equal", answers["outcome"], "failed")).as_py()
        rows = self.input_rows(run_id)
        with self._registered("answers", answers), self.transaction() as con:
            stamp = now()
            con.execute(
                f"""
                INSERT INTO jing_sync_log ({_LOG_COLUMNS})
                SELECT $run, s.row_index, s.source, {_KEY}, {fields_of("a")},
                       a.outcome, a.reason, a.request_id, a.chunk_id, $stamp, a.failure
                FROM answers AS a JOIN {rows} AS s USING ({_KEY})
                """,
                {"stamp": stamp, "run": run_id},
            )
            echoes = ", ".join(f"echo_{f}" for f in WANTED_FIELDS)
            nulls = ", ".join("NULL" for _ in WANTED_FIELDS)
            con.execute(
                f"""
                INSERT INTO jing_applied_status ({_APPLIED_COLUMNS})
                SELECT {_KEY}, {echoes}, jing_uuid, $stamp, $run, $dest,
                       coalesce(basis, 'confirmed')
                FROM answers WHERE outcome = 'applied'
                UNION ALL
                SELECT {_KEY}, {nulls}, NULL, $stamp, $run, $dest, 'unknown'
                FROM answers WHERE outcome = 'failed' AND failure = '{UNKNOWN}'
                """,
                self._params(run_id, stamp=stamp),
            )
            # Appended, not added up in jing_sync_runs: thousands of updates of one row
            # each leave a version behind, and the updates slow down as they pile up.
            con.execute("INSERT INTO jing_calls VALUES (?, ?)", [run_id, calls])
            if failed:
                self._pend(
                    con,
                    f"SELECT {_KEY}, {_FIELDS}, reason, failure "
                    "FROM answers WHERE outcome = 'failed'",
                    run_id,
                )

    def unknown_activities(self, run_id: str) -> list[str]:
        """The activities of this run's rows whose outcome is unknown."""
        rows = self.con.execute(
            f"SELECT DISTINCT entity_uuid FROM jing_sync_log WHERE run_id = ? "
            f"AND failure = '{UNKNOWN}' ORDER BY 1",
            [run_id],
        ).fetchall()
        return [row[0] for row in rows]

    def settle_unknown(self, run_id: str, observed: pa.Table) -> None:
        """Settle this run's unknown rows by what a read-back shows JING holds.

        A row whose wanted values JING holds becomes `applied`; one whose
        registration JING holds with other values becomes retryable, and what JING
        holds becomes the ledger's knowledge. A row the listing lacks stays unknown.
        """
        same = " AND ".join(f"(l.{f} IS NULL OR l.{f} = o.{f})" for f in WANTED_FIELDS)
        label = "'read back at ' || o.observed_text"
        read_back = observed.append_column("observed_text", _stamps(observed))
        with self._registered("read_back", read_back), self.transaction() as con:
            con.execute(
                f"""
                UPDATE jing_sync_log AS l SET
                    outcome = CASE WHEN {same} THEN 'applied' ELSE 'failed' END,
                    failure = CASE WHEN {same} THEN NULL ELSE '{RETRYABLE}' END,
                    reason = CASE WHEN {same}
                        THEN 'the answer was unknown; ' || {label} || ' shows the values'
                        ELSE 'the answer was unknown; ' || {label} || ' shows other values'
                    END
                FROM read_back AS o
                WHERE l.run_id = $run AND l.failure = '{UNKNOWN}'
                  AND l.entity_uuid = o.entity_uuid AND l.omni_user_uuid = o.omni_user_uuid
                """,
                {"run": run_id},
            )
            con.execute(
                f"""
                INSERT INTO jing_applied_status ({_APPLIED_COLUMNS})
                SELECT DISTINCT o.entity_uuid, o.omni_user_uuid,
                       {fields_of("o")}, NULL, now(), $run, $dest,
                       'read_back'
                FROM read_back AS o
                WHERE EXISTS (SELECT 1 FROM jing_applied_status AS u
                              WHERE u.run_id = $run AND u.destination = $dest
                                AND u.basis = 'unknown' AND u.entity_uuid = o.entity_uuid
                                AND u.omni_user_uuid = o.omni_user_uuid)
                """,
                self._params(run_id),
            )

    # -- unfinished runs ----------------------------------------------------------------

    @contextmanager
    def dead_runs(self, but: str) -> Iterator[list[tuple[str, str]]]:
        """(run_id, mode) of this destination's unfinished runs whose process is gone.

        On a DuckDB file every unfinished run is dead: the file lets one run in. So
        on PostgreSQL for a run that is not sharded: it holds the destination alone.
        A shard K/N knows dead the unfinished runs that were not sharded (it holds
        the destination shared), those of another count (it holds its count), those
        of its own shard, and those of shards whose lock it can take and that are still
        unfinished once it holds that lock (one may have ended just before): it holds
        those locks while the block settles their runs, so no new run of theirs starts.
        On PostgreSQL one run at a time is in the block (`LedgerLocks.settling`),
        and it looks for dead runs once inside: a run that the one before settled
        is not settled twice.
        """
        with nullcontext() if self._locks is None else self._locks.settling():
            yield from self._dead_runs(but)

    def _dead_runs(self, but: str) -> Iterator[list[tuple[str, str]]]:
        rows = self.con.execute(
            "SELECT run_id, mode, shard FROM jing_sync_runs WHERE status = 'running' "
            "AND run_id <> ? AND destination IS NOT DISTINCT FROM ? ORDER BY started_at",
            [but, self.destination],
        ).fetchall()
        if self._locks is None or self.shard is None:
            yield [(run_id, mode) for run_id, mode, _ in rows]
            return
        mine, taken, dead = self.shard, set[Shard](), []
        try:
            for run_id, mode, text in rows:
                other = None if text is None else Shard.parse(text)
                if other is None or other.count != mine.count or other == mine:
                    dead.append((run_id, mode))
                elif other in taken or self._locks.holds_alone(other):
                    taken.add(other)
                    # Read again, now that no run of that shard can start or end: one that
                    # was running at the read above may have finished and let its lock go.
                    if self._unfinished(run_id):
                        dead.append((run_id, mode))
            yield dead
        finally:
            for other in taken:
                self._locks.let_go(other)

    def _unfinished(self, run_id: str) -> bool:
        return bool(
            scalar(
                self.con,
                "SELECT count(*) FROM jing_sync_runs WHERE run_id = ? AND status = 'running'",
                [run_id],
            )
        )

    def settle_unlogged(
        self,
        con: LedgerConnection,
        run_id: str,
        outcome: str,
        reason: str,
        *,
        pend: bool,
        maybe_sent: bool = False,
    ) -> None:
        """Give every staged row of a run that has no log row yet its log row.

        Rejected rows are logged `rejected` (or `superseded`); the others get
        `outcome` with `reason` and, with `pend`, join `jing_pending` so that a later
        run sends them. With `maybe_sent` (the process died while calls may have
        been in flight), the rows that were in a chunk have an unknown outcome:
        their users' state becomes unknown. Runs inside `con`'s transaction.
        """
        con.execute("DROP TABLE IF EXISTS unlogged")
        con.execute(
            f"""
            CREATE TEMP TABLE unlogged AS
            SELECT s.*, c.chunk_id FROM jing_staged AS s
            LEFT JOIN ({_CHUNK_USERS} WHERE run_id = $run) AS c
                ON s.reason IS NULL AND c.entity_uuid = s.entity_uuid
                AND c.omni_user_uuid = s.omni_user_uuid
            WHERE s.run_id = $run AND NOT EXISTS (
                SELECT 1 FROM jing_sync_log AS l
                WHERE l.run_id = $run AND l.source = s.source AND l.row_index = s.row_index)
            """,
            {"run": run_id},
        )
        failure = f"CASE WHEN u.chunk_id IS NOT NULL THEN '{UNKNOWN}' ELSE '{RETRYABLE}' END"
        con.execute(
            f"""
            INSERT INTO jing_sync_log ({_LOG_COLUMNS})
            SELECT u.run_id, u.row_index, u.source, u.entity_uuid, u.omni_user_uuid,
                   {fields_of("u")},
                   CASE WHEN u.reason IS NULL THEN $outcome
                        WHEN u.source = $pending THEN 'superseded' ELSE 'rejected' END,
                   coalesce(u.reason, $reason), NULL, u.chunk_id, $stamp,
                   CASE WHEN u.reason IS NULL AND $outcome = 'failed'
                        THEN {failure if maybe_sent else f"'{RETRYABLE}'"} END
            FROM unlogged AS u
            """,
            {"outcome": outcome, "reason": reason, "stamp": now(), "pending": PENDING_SOURCE},
        )
        if maybe_sent:
            nulls = ", ".join("NULL" for _ in WANTED_FIELDS)
            con.execute(
                f"""
                INSERT INTO jing_applied_status ({_APPLIED_COLUMNS})
                SELECT DISTINCT {_KEY}, {nulls}, NULL, $stamp, $run, $dest, 'unknown'
                FROM unlogged WHERE reason IS NULL AND chunk_id IS NOT NULL
                """,
                self._params(run_id, stamp=now()),
            )
        if pend:
            chunked = f"CASE WHEN chunk_id IS NOT NULL THEN '{UNKNOWN}' ELSE '{RETRYABLE}' END"
            self._pend(
                con,
                f"SELECT DISTINCT {_KEY}, {_FIELDS}, $reason AS reason, "
                f"{chunked if maybe_sent else repr(RETRYABLE)} AS failure "
                "FROM unlogged WHERE reason IS NULL AND source <> $pending",
                run_id,
                {"reason": reason, "pending": PENDING_SOURCE},
            )
        con.execute("DROP TABLE unlogged")

    # -- pending ------------------------------------------------------------------------

    def _pend(
        self,
        con: LedgerConnection,
        rows_sql: str,
        run_id: str,
        params: Mapping[str, object] | None = None,
    ) -> None:
        """Append rows (key, wanted fields, reason, failure) to `jing_pending`.

        An append costs the same however large `jing_pending` is; `_compact_pending`
        folds each user's rows into one when the run closes. A permanent failure is
        kept as `permanent`, never retried on its own.
        """
        con.execute(
            f"""
            INSERT INTO jing_pending ({_PENDING_COLUMNS})
            SELECT {_KEY}, {_FIELDS}, $run, $run, 1, reason, $dest,
                   CASE WHEN failure = '{PERMANENT}' THEN 'permanent' ELSE 'pending' END,
                   failure, now()
            FROM ({rows_sql}) AS pended
            """,
            self._params(run_id, **(params or {})),
        )

    def _compact_pending(
        self, con: LedgerConnection, run_id: str, limits: PendingLimits | None
    ) -> None:
        """Settle `jing_pending` for a closing run: one row per user still waiting.

        Users the run applied leave it. A user the run failed keeps this run's
        values, reason and state, the first run that wanted it and when, and one
        more attempt. Past the limits a retryable row is given up, with the reason.
        Every step works on this destination's rows of `jing_pending`, so with none
        there (the usual close of a run that applied all it sent) none is taken.
        """
        params = self._params(run_id)
        if not any_row(con, "SELECT 1 FROM jing_pending WHERE destination = ?", [self.destination]):
            return
        con.execute(
            """
            DELETE FROM jing_pending AS p
            USING (SELECT DISTINCT entity_uuid, omni_user_uuid FROM jing_sync_log
                   WHERE run_id = $run AND outcome = 'applied') AS k
            WHERE p.destination = $dest
              AND p.entity_uuid = k.entity_uuid AND p.omni_user_uuid = k.omni_user_uuid
            """,
            params,
        )
        # Each user has at most one row from before this run (the last compaction left one).
        con.execute(
            """
            UPDATE jing_pending AS n SET first_run_id = o.first_run_id,
                attempts = o.attempts + 1,
                first_wanted_at = coalesce(o.first_wanted_at, n.first_wanted_at)
            FROM jing_pending AS o
            WHERE n.last_run_id = $run AND o.last_run_id <> $run
              AND n.destination = $dest AND o.destination = $dest
              AND n.entity_uuid = o.entity_uuid AND n.omni_user_uuid = o.omni_user_uuid
            """,
            params,
        )
        con.execute(
            """
            DELETE FROM jing_pending AS o
            USING (SELECT entity_uuid, omni_user_uuid FROM jing_pending
                   WHERE last_run_id = $run AND destination = $dest) AS n
            WHERE o.last_run_id <> $run AND o.destination = $dest
              AND o.entity_uuid = n.entity_uuid AND o.omni_user_uuid = n.omni_user_uuid
            """,
            params,
        )
        # Of one run's own rows for a user (a pending retry and a chunk), one stays, the
        # one still to retry first. By its values, not `rowid`: PostgreSQL has none.
        con.execute("DROP TABLE IF EXISTS pending_twice")
        con.execute(
            f"""
            CREATE TEMP TABLE pending_twice AS
            SELECT DISTINCT ON (p.entity_uuid, p.omni_user_uuid) p.* FROM jing_pending AS p
            WHERE p.last_run_id = $run AND p.destination = $dest AND EXISTS (
                SELECT 1 FROM jing_pending AS d
                WHERE d.last_run_id = $run AND d.destination = $dest
                  AND d.entity_uuid = p.entity_uuid AND d.omni_user_uuid = p.omni_user_uuid
                GROUP BY d.entity_uuid, d.omni_user_uuid HAVING count(*) > 1)
            ORDER BY p.entity_uuid, p.omni_user_uuid,
                     CASE p.failure WHEN '{UNKNOWN}' THEN 0 WHEN '{RETRYABLE}' THEN 1 ELSE 2 END,
                     p.last_reason
            """,
            params,
        )
        con.execute(
            """
            DELETE FROM jing_pending AS p USING pending_twice AS d
            WHERE p.last_run_id = $run AND p.destination = $dest
              AND p.entity_uuid = d.entity_uuid AND p.omni_user_uuid = d.omni_user_uuid
            """,
            params,
        )
        con.execute("INSERT INTO jing_pending SELECT * FROM pending_twice")
        con.execute("DROP TABLE pending_twice")
        if limits is not None:
            self._give_up(con, run_id, limits)

    def _give_up(self, con: LedgerConnection, run_id: str, limits: PendingLimits) -> None:
        """Retryable rows past `limits` become `given_up`; the run's log says so too."""
        con.execute("DROP TABLE IF EXISTS given_up")
        con.execute(
            """
            CREATE TEMP TABLE given_up AS
            SELECT entity_uuid, omni_user_uuid,
                   'given up after ' || attempts || ' attempts over '
                   || CAST(CAST(extract(epoch FROM now() - first_wanted_at) / 3600
                                AS NUMERIC(18, 1)) AS VARCHAR)
                   || ' h (limits: pending_max_attempts ' || $attempts_text
                   || ', pending_max_age_hours ' || $hours_text || '); the last failure: '
                   || coalesce(last_reason, '?') AS why
            FROM jing_pending
            WHERE destination = $dest AND state = 'pending' AND last_run_id = $run
              AND (attempts >= $attempts OR first_wanted_at < $oldest)
            """,
            self._params(
                run_id,
                attempts=limits.max_attempts,
                attempts_text=str(limits.max_attempts),
                hours_text=str(float(limits.max_age_hours)),
                oldest=now() - timedelta(hours=limits.max_age_hours),
            ),
        )
        con.execute(
            "UPDATE jing_pending AS p SET state = 'given_up', last_reason = g.why "
            "FROM given_up AS g WHERE p.destination = $dest AND p.state = 'pending' "
            "AND p.entity_uuid = g.entity_uuid AND p.omni_user_uuid = g.omni_user_uuid",
            self._params(),
        )
        con.execute(
            "UPDATE jing_sync_log AS l SET reason = l.reason || '; ' || g.why "
            "FROM given_up AS g WHERE l.run_id = $run AND l.outcome = 'failed' "
            "AND l.entity_uuid = g.entity_uuid AND l.omni_user_uuid = g.omni_user_uuid",
            {"run": run_id},
        )
        con.execute("DROP TABLE given_up")

    def pending_rows(self, where: PendingFilter) -> Iterator[dict[str, Any]]:
        """This destination's rows of `jing_pending` that `where` selects, oldest first
        (streamed: read them before the ledger closes)."""
        clause, params = where.where()
        cursor = stream(
            self.con,
            f"SELECT {_KEY}, {_FIELDS}, state, failure, attempts, first_wanted_at, "
            f"first_run_id, last_run_id, last_reason FROM jing_pending WHERE {clause} "
            f"ORDER BY first_wanted_at NULLS FIRST, {_KEY}",
            {**self._params(), **params},
        )
        return iter_dict_rows(cursor)

    def act_on_pending(self, action: str, where: PendingFilter) -> int:
        """`retry` (back to `pending`, attempts and age afresh) or `drop`; each row logged."""
        clause, params = where.where()
        params = {**self._params(), **params}
        with self.transaction() as con:
            con.execute(
                f"""
                INSERT INTO jing_pending_actions
                SELECT now(), $action, destination, {_KEY}, state, last_reason
                FROM jing_pending WHERE {clause}
                """,
                {**params, "action": action},
            )
            if action == "drop":
                count = scalar(con, f"SELECT count(*) FROM jing_pending WHERE {clause}", params)
                con.execute(f"DELETE FROM jing_pending WHERE {clause}", params)
            elif action == "retry":
                count = scalar(con, f"SELECT count(*) FROM jing_pending WHERE {clause}", params)
                con.execute(
                    f"UPDATE jing_pending SET state = 'pending', attempts = 0, "
                    f"first_wanted_at = now() WHERE {clause}",
                    params,
                )
            else:
                raise ValueError(f"unknown pending action {action!r}")
        return int(count or 0)


def _stamps(observed: pa.Table) -> pa.Array:
    """Each row's `observed_at` as the log's reasons write it (`2026-01-02 03:04:05 UTC`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # To the second first: Arrow's %S would print the microseconds too.
    times = observed["observed_at"].cast(pa.timestamp("s", tz="UTC"), safe=False)
    return pc.strftime(times, format="%Y-%m-%d %H:%M:%S UTC")


def expected_columns(con: LedgerConnection) -> dict[str, tuple[str, ...]]:
    """Each ledger table's columns, as `SCHEMA` and the migrations make them.

    Made once per process by running them in an empty database in memory: one
    attached to the ledger's own DuckDB (a new DuckDB instance costs 20 ms of every
    run's start), or a new one beside a PostgreSQL ledger.
    """
    if not _EXPECTED_COLUMNS:
        if isinstance(con, duckdb.DuckDBPyConnection):
            with con.cursor() as probe:
                home = scalar(probe, "SELECT current_database()").replace('"', '""')
                probe.execute("ATTACH ':memory:' AS jing_expected_shape")
                try:
                    _EXPECTED_COLUMNS.update(_made_columns(probe, "jing_expected_shape"))
                finally:
                    probe.execute(f'USE "{home}"')  # the database in use cannot be detached
                    probe.execute("DETACH jing_expected_shape")
        else:
            with duckdb.connect() as memory:
                _EXPECTED_COLUMNS.update(_made_columns(memory, "memory"))
    return _EXPECTED_COLUMNS


#: `expected_columns`, once made.
_EXPECTED_COLUMNS: dict[str, tuple[str, ...]] = {}


def _made_columns(con: duckdb.DuckDBPyConnection, database: str) -> dict[str, tuple[str, ...]]:
    """The columns the schema and its migrations make in `database`, empty until now."""
    con.execute(f"USE {database}")
    for statement in SCHEMA:
        con.execute(statement)
    for step in range(2, SCHEMA_VERSION + 1):
        for statement in _MIGRATIONS[step]:
            con.execute(statement)
    rows = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = ? "
        "ORDER BY table_name, column_index",
        [database],
    ).fetchall()
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    return {table: tuple(names) for table, names in columns.items()}


def _locks_for(home: LedgerHome, destination: str) -> LedgerLocks | None:
    """The advisory locks of a run on a PostgreSQL ledger (None for a DuckDB file)."""
    if home.url is None:
        return None
    try:
        from target_jing.ledger_locks import LedgerLocks  # psycopg: the postgres extra
    except ImportError:
        raise JingConfigError(needs_postgres_extra("ledger_url")) from None
    return LedgerLocks(home.url, home.schema, destination, home.lock_wait_seconds)


def destination_of(base_url: str, app_id: str) -> str:
    """The key a ledger files a destination's rows under: `app_id@base_url`."""
    return f"{app_id}@{base_url.rstrip('/')}"
