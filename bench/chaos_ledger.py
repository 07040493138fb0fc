"""Read a scenario's ledger back: what became of every row, over all the runs of the scenario.

The ledger is the engine's own record, so this reads it with plain SQL and
checks it against the input: an input row that no run logged, or a run that
logged fewer (or more) rows than it staged, is a lost row.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class Tally:
    """The outcomes of all runs of one ledger, and the rows that have none."""

    runs: int
    rows_in: int
    outcomes: Counter[str]
    lost: int
    update_calls: int
    #: (run number from 0, outcome, reason) -> rows, for failed and rejected rows.
    reasons: Counter[tuple[int, str, str]]
    #: (run number, activity, user) of each failed row, to check it was meant to fail.
    failed_keys: list[tuple[int, str, str]] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def tally(ledger: Path, source: str, input_rows: int) -> Tally:
    """Sum the runs of `ledger`; `source` and `input_rows` name the input each run was given."""
    with duckdb.connect(str(ledger), read_only=True) as con:
        runs = con.execute(
            "SELECT run_id, rows_in, status, update_calls FROM jing_sync_runs ORDER BY started_at"
        ).fetchall()
        number = {run_id: i for i, (run_id, *_) in enumerate(runs)}
        logged = dict(
            (run_id, (total, distinct))
            for run_id, total, distinct in con.execute(
                "SELECT run_id, count(*), count(DISTINCT (source, row_index)) "
                "FROM jing_sync_log GROUP BY run_id"
            ).fetchall()
        )
        outcomes = Counter(
            dict(con.execute("SELECT outcome, count(*) FROM jing_sync_log GROUP BY 1").fetchall())
        )
        reasons: Counter[tuple[int, str, str]] = Counter()
        for run_id, outcome, reason, count in con.execute(
            "SELECT run_id, outcome, coalesce(reason, '(no reason)'), count(*) FROM jing_sync_log "
            "WHERE outcome IN ('failed', 'rejected') GROUP BY ALL"
        ).fetchall():
            reasons[(number[run_id], outcome, reason)] += count
        failed_keys = [
            (number[run_id], entity, user)
            for run_id, entity, user in con.execute(
                "SELECT run_id, entity_uuid, omni_user_uuid FROM jing_sync_log "
                "WHERE outcome = 'failed'"
            ).fetchall()
        ]
        never_logged = con.execute(
            "SELECT count(*) FROM range(?) AS r(i) ANTI JOIN "
            "(SELECT DISTINCT row_index FROM jing_sync_log WHERE source = ?) AS l "
            "ON l.row_index = r.i",
            [input_rows, source],
        ).fetchone()
        left = con.execute(
            "SELECT (SELECT count(*) FROM jing_staged) + (SELECT count(*) FROM jing_work), "
            "(SELECT count(*) FROM jing_pending)"
        ).fetchone()
    problems = []
    lost = int(never_logged[0]) if never_logged else 0
    for run_id, rows_in, status, _ in runs:
        total, distinct = logged.get(run_id, (0, 0))
        if status == "running":
            problems.append(f"run {number[run_id]} never finished")
        if distinct < rows_in:
            lost += rows_in - distinct
            problems.append(f"run {number[run_id]}: {rows_in - distinct} staged rows not logged")
        if total != distinct:
            problems.append(f"run {number[run_id]}: {total - distinct} rows logged twice")
    working, pending = left if left else (0, 0)
    if working:
        problems.append(f"{working} working rows left in the ledger")
    if pending:
        problems.append(f"{pending} rows still pending after the last run")
    return Tally(
        runs=len(runs),
        rows_in=sum(int(rows_in) for _, rows_in, _, _ in runs),
        outcomes=outcomes,
        lost=lost,
        update_calls=sum(int(calls) for *_, calls in runs),
        reasons=reasons,
        failed_keys=failed_keys,
        statuses=[status for _, _, status, _ in runs],
        problems=problems,
    )
