"""The ledger: one DuckDB file that remembers every run, every row and what JING confirmed.

Users query it beside their warehouse (`jing_sync_runs`, `jing_sync_log`,
`jing_applied_status`, `jing_pending`). The engine also keeps its working rows
here (`jing_staged`, `jing_plan`, `jing_work`, `jing_calls`) rather than in
memory, so a run of a million rows stays small, and a run killed at any moment
leaves on disk all that the next run needs to finish its work (`unfinished_runs`,
`settle_unlogged`, `close_run`).

Only the thread that owns a `Ledger` touches it: DuckDB connections are not
thread-safe, and one writer makes every transaction's effect easy to reason about.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from jing_client import JingConfigError
from target_jing.settings import WANTED_FIELDS

SCHEMA_VERSION = 1

#: Outcomes a log row can have; `planned` only in a dry run.
OUTCOMES: tuple[str, ...] = ("applied", "unchanged", "failed", "rejected", "planned")

_FIELDS_DDL = ", ".join(f"{name} VARCHAR" for name in WANTED_FIELDS)
_FIELDS = ", ".join(WANTED_FIELDS)

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS jing_schema_version (
        version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS jing_sync_runs (
        run_id VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL, ended_at TIMESTAMPTZ,
        mode VARCHAR NOT NULL, status VARCHAR NOT NULL,
        rows_in BIGINT DEFAULT 0, applied BIGINT DEFAULT 0, unchanged BIGINT DEFAULT 0,
        failed BIGINT DEFAULT 0, rejected BIGINT DEFAULT 0, planned BIGINT DEFAULT 0,
        update_calls BIGINT DEFAULT 0, minimum_calls BIGINT DEFAULT 0, fatal_error VARCHAR)""",
    f"""CREATE TABLE IF NOT EXISTS jing_sync_log (
        run_id VARCHAR NOT NULL, row_index BIGINT, source VARCHAR NOT NULL,
        entity_uuid VARCHAR, omni_user_uuid VARCHAR, {_FIELDS_DDL},
        outcome VARCHAR NOT NULL, reason VARCHAR, request_id VARCHAR, chunk_id BIGINT,
        logged_at TIMESTAMPTZ NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS jing_applied_status (
        entity_uuid VARCHAR NOT NULL, omni_user_uuid VARCHAR NOT NULL, {_FIELDS_DDL},
        jing_uuid VARCHAR, confirmed_at TIMESTAMPTZ NOT NULL, run_id VARCHAR NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS jing_pending (
        entity_uuid VARCHAR NOT NULL, omni_user_uuid VARCHAR NOT NULL, {_FIELDS_DDL},
        first_run_id VARCHAR NOT NULL, last_run_id VARCHAR NOT NULL,
        attempts INTEGER NOT NULL, last_reason VARCHAR)""",
    # Working tables: rows of runs not yet finished (emptied when a run ends).
    f"""CREATE TABLE IF NOT EXISTS jing_staged (
        run_id VARCHAR NOT NULL, row_index BIGINT NOT NULL, source VARCHAR NOT NULL,
        entity_uuid VARCHAR, omni_user_uuid VARCHAR, {_FIELDS_DDL}, reason VARCHAR)""",
    f"""CREATE TABLE IF NOT EXISTS jing_plan (
        run_id VARCHAR NOT NULL, chunk_id BIGINT NOT NULL,
        entity_uuid VARCHAR NOT NULL, omni_user_uuid VARCHAR NOT NULL, {_FIELDS_DDL})""",
    """CREATE TABLE IF NOT EXISTS jing_calls (run_id VARCHAR NOT NULL, calls BIGINT NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS jing_work (
        run_id VARCHAR NOT NULL, chunk_id BIGINT NOT NULL, row_index BIGINT NOT NULL,
        source VARCHAR NOT NULL, entity_uuid VARCHAR NOT NULL, omni_user_uuid VARCHAR NOT NULL,
        {_FIELDS_DDL})""",
)

#: Columns of the table `record_answers` takes: one row per input row answered.
ANSWER_COLUMNS: tuple[str, ...] = (
    "chunk_id",
    "source",
    "row_index",
    "entity_uuid",
    "omni_user_uuid",
    *WANTED_FIELDS,
    "outcome",
    "reason",
    "request_id",
    "jing_uuid",
    *(f"echo_{name}" for name in WANTED_FIELDS),
)

#: The `source` of retried rows from `jing_pending` in the log.
PENDING_SOURCE = "pending"

INTERRUPTED = "the run ended before this row was confirmed; it stays pending and is retried"


#: Ledgers open in this process: a second run on one would take the first for a dead one.
_OPEN: set[Path] = set()


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    """Open the ledger file for this run alone; say plainly when another run holds it."""
    where = path.resolve()
    if where in _OPEN:
        raise JingConfigError(
            f"setting 'ledger_path': {path} is already used by a run in this process"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path))
    except (OSError, duckdb.Error) as exc:
        raise JingConfigError(
            f"setting 'ledger_path': cannot open the ledger {path} (is another target-jing "
            f"run using it?): {exc}"
        ) from None
    _OPEN.add(where)
    return con


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    """The one value of a one-row query, the result read to its end.

    A result left unread (as `fetchone` leaves it) blocks the next use of the
    connection, such as registering a table.
    """
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def now() -> datetime:
    return datetime.now(UTC)


class Ledger:
    """An open ledger file; the schema is created (or checked) on open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.con = _connect(path)
        # The engine streams; DuckDB's own buffers are what grows with the data.
        try:
            self.con.execute("SET memory_limit = '128MB'")
            self.con.execute("SET preserve_insertion_order = true")
            self._create_schema()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self.con.close()
        _OPEN.discard(self.path.resolve())

    def _create_schema(self) -> None:
        with self.transaction():
            for statement in SCHEMA:
                self.con.execute(statement)
            version = scalar(self.con, "SELECT max(version) FROM jing_schema_version")
            if version is None:
                self.con.execute(
                    "INSERT INTO jing_schema_version VALUES (?, ?)", [SCHEMA_VERSION, now()]
                )
            elif version > SCHEMA_VERSION:
                raise JingConfigError(
                    f"setting 'ledger_path': {self.path} has ledger schema version {version}; "
                    f"this target-jing knows up to {SCHEMA_VERSION}: upgrade target-jing"
                )

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All statements in the block commit together or not at all."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # -- runs ---------------------------------------------------------------------------

    def start_run(self, run_id: str, mode: str, started_at: datetime) -> None:
        with self.transaction() as con:
            con.execute(
                "INSERT INTO jing_sync_runs (run_id, started_at, mode, status) "
                "VALUES (?, ?, ?, 'running')",
                [run_id, started_at, mode],
            )

    def stage(self, run_id: str, frame: pd.DataFrame) -> None:
        """Append checked rows to `jing_staged`, in one transaction of their own."""
        with self._registered("staged_batch", frame), self.transaction() as con:
            con.execute(
                f"INSERT INTO jing_staged SELECT ?, row_index, source, entity_uuid, "
                f"omni_user_uuid, {_FIELDS}, reason FROM staged_batch",
                [run_id],
            )

    @contextmanager
    def _registered(self, name: str, data: pd.DataFrame | pa.Table) -> Iterator[None]:
        """Make in-memory `data` a view for the block (around, not inside, a transaction:
        a failed transaction refuses even the unregistering)."""
        self.con.register(name, data)
        try:
            yield
        finally:
            self.con.unregister(name)

    def unstage(self, run_id: str, source: str, from_index: int) -> None:
        """Take back the rows of one `add_*` call that failed part-way."""
        with self.transaction() as con:
            con.execute(
                "DELETE FROM jing_staged WHERE run_id = ? AND source = ? AND row_index >= ?",
                [run_id, source, from_index],
            )

    def counts(self, run_id: str) -> dict[str, int]:
        """Log rows of a run by outcome (every outcome present, zero when none)."""
        found = dict(
            self.con.execute(
                "SELECT outcome, count(*) FROM jing_sync_log WHERE run_id = ? GROUP BY outcome",
                [run_id],
            ).fetchall()
        )
        return {outcome: int(found.get(outcome, 0)) for outcome in OUTCOMES}

    def staged_count(self, run_id: str) -> int:
        return int(scalar(self.con, "SELECT count(*) FROM jing_staged WHERE run_id = ?", [run_id]))

    def update_calls(self, run_id: str) -> int:
        sql = "SELECT coalesce(sum(calls), 0) FROM jing_calls WHERE run_id = ?"
        return int(scalar(self.con, sql, [run_id]))

    def close_run(
        self,
        con: duckdb.DuckDBPyConnection,
        run_id: str,
        status: str,
        fatal_error: str | None,
    ) -> None:
        """Write a run's final row from its log and drop its working rows (inside `con`'s
        transaction, so a run is either finished with all its log rows or not at all)."""
        con.execute(
            """
            UPDATE jing_sync_runs SET
                ended_at = $ended, status = $status, fatal_error = $fatal,
                rows_in = (SELECT count(*) FROM jing_staged WHERE run_id = $run),
                update_calls = (SELECT coalesce(sum(calls), 0) FROM jing_calls
                                WHERE run_id = $run),
                applied = c.applied, unchanged = c.unchanged, failed = c.failed,
                rejected = c.rejected, planned = c.planned
            FROM (
                SELECT count(*) FILTER (outcome = 'applied') AS applied,
                       count(*) FILTER (outcome = 'unchanged') AS unchanged,
                       count(*) FILTER (outcome = 'failed') AS failed,
                       count(*) FILTER (outcome = 'rejected') AS rejected,
                       count(*) FILTER (outcome = 'planned') AS planned
                FROM jing_sync_log WHERE run_id = $run
            ) AS c
            WHERE run_id = $run
            """,
            {"ended": now(), "status": status, "fatal": fatal_error, "run": run_id},
        )
        # A run appends what JING confirmed; now the older rows of those users go.
        con.execute(
            """
            DELETE FROM jing_applied_status AS s
            USING (SELECT DISTINCT entity_uuid, omni_user_uuid FROM jing_applied_status
                   WHERE run_id = $run) AS k
            WHERE s.entity_uuid = k.entity_uuid AND s.omni_user_uuid = k.omni_user_uuid
              AND s.run_id <> $run
            """,
            {"run": run_id},
        )
        _compact_pending(con, run_id)
        for table in ("jing_staged", "jing_plan", "jing_work", "jing_calls"):
            con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])

    # -- answers ------------------------------------------------------------------------

    def record_answers(self, run_id: str, answers: pa.Table, calls: int) -> None:
        """Log, confirm and (un)pend the rows of answered chunks, in one transaction.

        `answers` holds one row per (chunk, user) with `ANSWER_COLUMNS`. Every input
        row behind a user (identical duplicates, a pending retry) gets the outcome.
        This runs after every few calls, so it only appends: confirmed users leave
        `jing_pending`, and older confirmations go, when the run closes (`close_run`).
        """
        failed = pc.sum(pc.equal(answers["outcome"], "failed")).as_py() or 0
        with self._registered("answers", answers), self.transaction() as con:
            self._record(con, run_id, calls)
            if failed:
                _pend(
                    con,
                    f"SELECT DISTINCT entity_uuid, omni_user_uuid, {_FIELDS}, reason "
                    "FROM answers WHERE outcome = 'failed'",
                    run_id,
                )

    def _record(self, con: duckdb.DuckDBPyConnection, run_id: str, calls: int) -> None:
        """Log the answers and append what JING confirmed (older rows go in `close_run`)."""
        stamp = now()
        con.execute(
            f"""
            INSERT INTO jing_sync_log
            SELECT $run, row_index, source, entity_uuid, omni_user_uuid, {_FIELDS},
                   outcome, reason, request_id, chunk_id, $stamp
            FROM answers
            """,
            {"stamp": stamp, "run": run_id},
        )
        echoes = ", ".join(f"echo_{f}" for f in WANTED_FIELDS)
        con.execute(
            f"""
            INSERT INTO jing_applied_status
            SELECT DISTINCT entity_uuid, omni_user_uuid, {echoes}, jing_uuid, $stamp, $run
            FROM answers WHERE outcome = 'applied'
            """,
            {"stamp": stamp, "run": run_id},
        )
        # Appended, not added up in jing_sync_runs: thousands of updates of one row
        # each leave a version behind, and the updates slow down as they pile up.
        con.execute("INSERT INTO jing_calls VALUES (?, ?)", [run_id, calls])

    # -- unfinished runs ----------------------------------------------------------------

    def unfinished_runs(self, but: str) -> list[tuple[str, str]]:
        """(run_id, mode) of runs that never finished: their process died or was killed."""
        return [
            (run_id, mode)
            for run_id, mode in self.con.execute(
                "SELECT run_id, mode FROM jing_sync_runs WHERE status = 'running' AND run_id <> ? "
                "ORDER BY started_at",
                [but],
            ).fetchall()
        ]

    def settle_unlogged(
        self, con: duckdb.DuckDBPyConnection, run_id: str, outcome: str, reason: str, *, pend: bool
    ) -> None:
        """Give every staged row of a run that has no log row yet its log row.

        Rejected rows are logged `rejected`; the others get `outcome` with `reason`
        and, with `pend`, join `jing_pending` so that a later run sends them. Runs
        inside `con`'s transaction.
        """
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE unlogged AS
            SELECT s.* FROM jing_staged AS s
            ANTI JOIN (SELECT source, row_index FROM jing_sync_log WHERE run_id = $run) AS l
            USING (source, row_index)
            WHERE s.run_id = $run
            """,
            {"run": run_id},
        )
        con.execute(
            f"""
            INSERT INTO jing_sync_log
            SELECT u.run_id, u.row_index, u.source, u.entity_uuid, u.omni_user_uuid,
                   {", ".join(f"u.{f}" for f in WANTED_FIELDS)},
                   CASE WHEN u.reason IS NULL THEN $outcome ELSE 'rejected' END,
                   coalesce(u.reason, $reason), NULL, w.chunk_id, $stamp
            FROM unlogged AS u
            LEFT JOIN jing_work AS w USING (run_id, source, row_index)
            """,
            {"outcome": outcome, "reason": reason, "stamp": now()},
        )
        if pend:
            _pend(
                con,
                f"SELECT DISTINCT entity_uuid, omni_user_uuid, {_FIELDS}, $reason AS reason "
                "FROM unlogged WHERE reason IS NULL AND source <> $pending",
                run_id,
                {"reason": reason, "pending": PENDING_SOURCE},
            )
        con.execute("DROP TABLE unlogged")


def _pend(
    con: duckdb.DuckDBPyConnection,
    rows_sql: str,
    run_id: str,
    params: dict[str, object] | None = None,
) -> None:
    """Append rows (entity_uuid, omni_user_uuid, wanted fields, reason) to `jing_pending`.

    An append costs the same however large `jing_pending` is; `_compact_pending`
    folds each user's rows into one when the run closes.
    """
    con.execute(
        f"""
        INSERT INTO jing_pending
        SELECT entity_uuid, omni_user_uuid, {_FIELDS}, $run, $run, 1, reason FROM ({rows_sql})
        """,
        {"run": run_id, **(params or {})},
    )


def _compact_pending(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Settle `jing_pending` for a closing run: one row per user still waiting.

    Users the run confirmed leave it. A user the run failed keeps this run's
    values and reason, the first run that wanted it, and one more attempt.
    """
    con.execute(
        """
        DELETE FROM jing_pending AS p
        USING (SELECT DISTINCT entity_uuid, omni_user_uuid FROM jing_applied_status
               WHERE run_id = $run) AS k
        WHERE p.entity_uuid = k.entity_uuid AND p.omni_user_uuid = k.omni_user_uuid
        """,
        {"run": run_id},
    )
    # Each user has at most one row from before this run (the last compaction left one).
    con.execute(
        """
        UPDATE jing_pending AS n SET first_run_id = o.first_run_id, attempts = o.attempts + 1
        FROM jing_pending AS o
        WHERE n.last_run_id = $run AND o.last_run_id <> $run
          AND n.entity_uuid = o.entity_uuid AND n.omni_user_uuid = o.omni_user_uuid
        """,
        {"run": run_id},
    )
    con.execute(
        """
        DELETE FROM jing_pending AS o
        USING (SELECT entity_uuid, omni_user_uuid FROM jing_pending WHERE last_run_id = $run) AS n
        WHERE o.last_run_id <> $run
          AND o.entity_uuid = n.entity_uuid AND o.omni_user_uuid = n.omni_user_uuid
        """,
        {"run": run_id},
    )
