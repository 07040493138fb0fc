"""Plan a run in SQL: which rows to send, and in how few calls.

Everything here works on the ledger's tables for one run, never on Python lists
of rows: a million rows are a few SQL statements, in the SQL that DuckDB and
PostgreSQL share (`ledger_home`). The plan keeps the rows whose
wanted values differ from what JING last confirmed (all of them in mode
`full`), adds the pending rows of earlier runs, groups them by activity and by
the exact set of fields and values (a field left empty is not sent, so it is
part of the group), and cuts each group into chunks of at most `batch_size`
users. One chunk is one update call, and no fewer calls can carry the same
changes, because one call sets the same values for one activity.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from target_jing.ledger import PENDING_SOURCE, SHARD_ACTIVITIES, any_row, scalar
from target_jing.ledger_home import LedgerConnection, LedgerHome, stream
from target_jing.settings import WANTED_FIELDS

#: Chunks fetched from the ledger at a time while they are read out.
FETCH_CHUNKS = 100

_KEY = "entity_uuid, omni_user_uuid"
_FIELDS = ", ".join(WANTED_FIELDS)


def _differs(left: str, right: str) -> str:
    return " OR ".join(f"{left}.{f} IS DISTINCT FROM {right}.{f}" for f in WANTED_FIELDS)


@dataclass(frozen=True)
class Chunk:
    """One update call: the same `fields` for `user_ids` of one activity."""

    chunk_id: int
    entity_uuid: str
    fields: dict[str, str]
    user_ids: list[str] = field(default_factory=list)
    #: The input rows behind the users (a user asked for twice, or retried, counts twice).
    input_rows: int = 0


def mark_conflicts(con: LedgerConnection, run_id: str) -> None:
    """Reject both rows when one run asks two different things for the same registration.

    Identical duplicates are kept: they collapse into one send and share its outcome.
    Picking one of two different rows could write a status nobody meant. Usually no
    registration is asked for twice: the update is skipped then (at 100,000 rows the
    grouping alone costs a third of it).
    """
    repeated = (
        f"SELECT 1 FROM jing_staged WHERE run_id = $run AND reason IS NULL "
        f"GROUP BY {_KEY} HAVING count(*) > 1"
    )
    if not any_row(con, repeated, {"run": run_id}):
        return
    con.execute(
        f"""
        UPDATE jing_staged AS s
        SET reason = 'row ' || s.row_index || ' of ' || s.source
                     || ': conflicting duplicate of row ' || c.other_index || ' of '
                     || c.other_source || ' (same activity and user, different values)'
        FROM (
            WITH valid AS (
                SELECT row_index, source, {_KEY}, {_FIELDS} FROM jing_staged
                WHERE run_id = $run AND reason IS NULL
            ), repeated AS (
                SELECT {_KEY} FROM valid GROUP BY {_KEY} HAVING count(*) > 1
            ), candidates AS (
                SELECT v.* FROM valid AS v JOIN repeated USING ({_KEY})
            )
            SELECT DISTINCT ON (a.row_index, a.source) a.row_index, a.source,
                   b.row_index AS other_index, b.source AS other_source
            FROM candidates AS a JOIN candidates AS b USING ({_KEY})
            WHERE {_differs("a", "b")}
            ORDER BY a.row_index, a.source, b.source, b.row_index
        ) AS c
        WHERE s.run_id = $run AND s.row_index = c.row_index AND s.source = c.source
        """,
        {"run": run_id},
    )


def add_pending(
    con: LedgerConnection, run_id: str, destination: str, *, sharded: bool = False
) -> None:
    """Bring in the destination's pending rows of earlier runs, as rows of source `pending`.

    A registration this run asks for again takes this run's values instead: the
    newest wish wins, and the older pending row is replaced when this one settles.
    When this run's row for it was rejected (a bad value, a conflicting duplicate),
    the pending row is staged with the reason it is superseded, so that it is
    logged and withdrawn rather than sent: a value the input no longer asks for.
    Rows given up or permanent are not retried on their own (`target-jing pending`).
    A sharded run (`--shard`) takes only its shard's pending rows.
    """
    in_shard = f"AND entity_uuid IN (SELECT entity_uuid FROM {SHARD_ACTIVITIES})" if sharded else ""
    waiting = (
        f"SELECT 1 FROM jing_pending WHERE destination = $dest AND state = 'pending' {in_shard}"
    )
    if not any_row(con, waiting, {"dest": destination}):
        return  # none waits; the anti-join below would hash every wanted row for nothing
    con.execute(
        f"""
        INSERT INTO jing_staged
        SELECT $run, row_number() OVER (ORDER BY {_KEY}) - 1, $pending, {_KEY}, {_FIELDS},
               CASE WHEN r.row_index IS NOT NULL THEN
                   'superseded by row ' || r.row_index || ' of ' || r.source
                   || ', a newer wish for this registration (that row was rejected: '
                   || r.reason || ')' END
        FROM (  -- one row per user, even beside a killed run not yet recovered (a dry run)
            SELECT {_KEY}, {_FIELDS} FROM (
                SELECT {_KEY}, {_FIELDS}, row_number() OVER (
                    PARTITION BY {_KEY} ORDER BY last_run_id DESC) AS newest
                FROM jing_pending WHERE destination = $dest AND state = 'pending' {in_shard}
            ) AS q WHERE newest = 1
        ) AS p
        LEFT JOIN (
            SELECT {_KEY}, row_index, source, reason FROM (
                SELECT {_KEY}, row_index, source, reason, row_number() OVER (
                    PARTITION BY {_KEY} ORDER BY source, row_index) AS first
                FROM jing_staged WHERE run_id = $run AND reason IS NOT NULL
            ) AS q WHERE first = 1
        ) AS r USING ({_KEY})
        WHERE NOT EXISTS (
            SELECT 1 FROM jing_staged AS s
            WHERE s.run_id = $run AND s.reason IS NULL
              AND s.entity_uuid = p.entity_uuid AND s.omni_user_uuid = p.omni_user_uuid)
        """,
        {"run": run_id, "pending": PENDING_SOURCE, "dest": destination},
    )


def find_unchanged(con: LedgerConnection, run_id: str, destination: str) -> bool:
    """Write the temp table `unchanged_keys`: registrations JING is known to hold as wanted;
    return whether it has any.

    What JING holds is the newest of what the ledger knows (a confirmation, a
    read-back, or an unknown outcome, which knows nothing) and what this run
    observed (`jing_observed`: an extract of the warehouse, or a read-back). Only
    the fields a row sets are compared: an empty field is not sent, so it cannot
    differ. `known_by` says where the knowledge came from, for the log.
    """
    con.execute("DROP TABLE IF EXISTS unchanged_keys")
    known = "SELECT 1 FROM jing_applied_status WHERE destination = $dest"
    observed = "SELECT 1 FROM jing_observed WHERE run_id = $run"
    if not any_row(con, known, {"dest": destination}) and not any_row(
        con, observed, {"run": run_id}
    ):
        # A destination's first run, nothing observed: nothing is known to be held.
        con.execute(
            "CREATE TEMP TABLE unchanged_keys (entity_uuid VARCHAR, omni_user_uuid VARCHAR, "
            "known_by VARCHAR)"
        )
        return False
    same = " AND ".join(f"(w.{f} IS NULL OR w.{f} = k.{f})" for f in WANTED_FIELDS)
    is_wanted = (
        "EXISTS (SELECT 1 FROM wanted AS w WHERE w.entity_uuid = k.entity_uuid "
        "AND w.omni_user_uuid = k.omni_user_uuid)"
    )
    # `wanted` is not made distinct: the joins to it only ask whether a row is there, and
    # the result is (100,000 rows: 10 against 17 ms, 113 against 120 ms with knowledge).
    con.execute(
        f"""
        CREATE TEMP TABLE unchanged_keys AS
        WITH wanted AS (
            SELECT {_KEY}, {_FIELDS} FROM jing_staged
            WHERE run_id = $run AND reason IS NULL
        ), known AS (
            -- JING's times are to the second: an observation in the second of a
            -- confirmation may be newer than it, so there it wins (priority 0).
            SELECT {_KEY}, {_FIELDS}, basis, date_trunc('second', confirmed_at) AS known_at,
                   1 AS priority,
                   CASE basis WHEN 'read_back' THEN 'read back by run ' || run_id
                        ELSE 'confirmed by run ' || run_id END AS known_by
            FROM jing_applied_status AS k
            WHERE destination = $dest AND {is_wanted}
            UNION ALL
            SELECT {_KEY}, {_FIELDS}, 'observed', observed_at, 0, known_by
            FROM jing_observed AS k
            WHERE run_id = $run AND {is_wanted}
        ), newest AS (
            SELECT * FROM (
                SELECT *, row_number() OVER (
                    PARTITION BY {_KEY} ORDER BY known_at DESC, priority) AS rank
                FROM known
            ) AS ranked WHERE rank = 1
        )
        SELECT DISTINCT w.entity_uuid, w.omni_user_uuid, k.known_by
        FROM wanted AS w JOIN newest AS k USING ({_KEY})
        WHERE k.basis <> 'unknown' AND {same}
        """,
        {"run": run_id, "dest": destination},
    )
    return any_row(con, "SELECT 1 FROM unchanged_keys")


def find_refused(con: LedgerConnection, run_id: str, destination: str) -> bool:
    """Write the temp table `refused_keys`: wanted rows that JING refused before, as they are;
    return whether it has any.

    A row whose registration and values equal a `permanent` row of `jing_pending`
    (JING refused that id or value once it was alone in its call) would be refused
    again: it is not sent, and `target-jing pending retry` puts it back in play.
    """
    same = " AND ".join(f"w.{f} IS NOT DISTINCT FROM p.{f}" for f in WANTED_FIELDS)
    con.execute("DROP TABLE IF EXISTS refused_keys")
    # Joined from the refused rows, and made distinct once joined: usually few or none
    # (100,000 wanted rows: 2 against 11 ms with none, 19 against 30 ms with 20,000).
    con.execute(
        f"""
        CREATE TEMP TABLE refused_keys AS
        SELECT DISTINCT w.entity_uuid, w.omni_user_uuid,
               'JING refused this same wish before (run ' || p.last_run_id || ': '
               || coalesce(p.last_reason, '?') || '); not sent again: '
               || '`target-jing pending retry` sends it once more' AS reason
        FROM jing_pending AS p JOIN jing_staged AS w USING ({_KEY})
        WHERE p.destination = $dest AND p.state = 'permanent' AND w.run_id = $run
          AND w.reason IS NULL AND {same}
        """,
        {"run": run_id, "dest": destination},
    )
    return any_row(con, "SELECT 1 FROM refused_keys")


def make_chunks(con: LedgerConnection, run_id: str, batch_size: int, *, compare: bool) -> int:
    """Cut the run's wanted registrations into chunks and write the plan (`jing_work`);
    return how many calls it needs.

    The plan is one row per chunk: its activity and values, its users as one list
    (each once, in order) and how many input rows they stand for, written in chunk
    order. An answer reaches its input rows through `jing_staged` by registration.
    With `compare`, registrations logged `unchanged` or refused before are left out.
    """
    values = f"entity_uuid, {_FIELDS}"
    # Rows of one registration are alike here (`mark_conflicts` rejected the others), so
    # grouping by registration first makes each user one member of one chunk, counted once.
    con.execute(
        f"""
        INSERT INTO jing_work
        SELECT $run, row_number() OVER (ORDER BY {values}, part) - 1 AS chunk_id, {values},
               CAST(sum(input_rows) AS BIGINT),
               array_agg(omni_user_uuid ORDER BY omni_user_uuid)
        FROM (
            SELECT {values}, omni_user_uuid, input_rows,
                   CAST(floor((row_number() OVER (PARTITION BY {values} ORDER BY omni_user_uuid)
                               - 1) / CAST($batch AS DOUBLE PRECISION)) AS BIGINT) AS part
            FROM (
                SELECT {values}, omni_user_uuid, count(*) AS input_rows
                {_to_send(compare)}
                GROUP BY {values}, omni_user_uuid
            ) AS registrations
        ) AS parted
        GROUP BY {values}, part
        ORDER BY chunk_id
        """,
        {"run": run_id, "batch": batch_size},
    )
    return int(scalar(con, "SELECT count(*) FROM jing_work WHERE run_id = ?", [run_id]))


def anything_to_send(con: LedgerConnection, run_id: str, *, compare: bool) -> bool:
    """Whether `make_chunks` will cut any chunk: a wanted row that is to be sent.

    A count, not EXISTS: for EXISTS, PostgreSQL plans for a first row soon found, an
    anti-join row by row, and when every row is unchanged no row is ever found (a no-op
    re-run of 100,000 rows took 349 s).
    """
    return bool(scalar(con, f"SELECT count(*) {_to_send(compare)}", {"run": run_id}))


def _to_send(compare: bool) -> str:
    """FROM and WHERE of the run's wanted rows to send (`w`): with `compare`, those not
    logged `unchanged` or refused before."""
    skip = (
        " ".join(
            f"AND NOT EXISTS (SELECT 1 FROM {table} AS u WHERE u.entity_uuid = w.entity_uuid "
            "AND u.omni_user_uuid = w.omni_user_uuid)"
            for table in ("unchanged_keys", "refused_keys")
        )
        if compare
        else ""
    )
    return f"FROM jing_staged AS w WHERE run_id = $run AND reason IS NULL {skip}"


def wanted_activities(con: LedgerConnection, run_id: str) -> list[str]:
    """The activities of the run's wanted rows (its input and the pending rows it retries)."""
    rows = con.execute(
        "SELECT DISTINCT entity_uuid FROM jing_staged WHERE run_id = ? AND reason IS NULL "
        "ORDER BY 1",
        [run_id],
    ).fetchall()
    return [row[0] for row in rows]


def planned_rows(con: LedgerConnection, run_id: str) -> int:
    """Input rows the chunks carry (a user asked for twice counts twice, as in the log)."""
    return int(
        scalar(con, "SELECT coalesce(sum(input_rows), 0) FROM jing_work WHERE run_id = ?", [run_id])
    )


def iter_chunks(cursor: LedgerConnection, run_id: str, home: LedgerHome) -> Iterator[Chunk]:
    """Read the chunks back one by one, streaming: the plan is never all in memory.

    On a DuckDB file the chunks come in the order `jing_work` was written, chunk
    order, so DuckDB needs no sort. A PostgreSQL table has no order of its own:
    there the query sorts by chunk on PostgreSQL's side and streams back.
    `cursor` must be a connection of its own (`Ledger.cursor()`), so that the
    ledger can be written between chunks without ending this read.
    """
    order = " ORDER BY chunk_id" if home.on_postgres else ""
    rows = stream(
        cursor,
        f"SELECT chunk_id, entity_uuid, input_rows, user_ids, {_FIELDS} FROM jing_work "
        f"WHERE run_id = ?{order}",
        [run_id],
    )
    while batch := rows.fetchmany(FETCH_CHUNKS):
        for chunk_id, entity_uuid, input_rows, user_ids, *values in batch:
            fields = {k: v for k, v in zip(WANTED_FIELDS, values, strict=True) if v is not None}
            yield Chunk(chunk_id, entity_uuid, fields, list(user_ids), int(input_rows))
