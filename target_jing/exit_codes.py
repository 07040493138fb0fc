"""The exit codes of target-jing, in one place.

A scheduler (Airflow, `meltano schedule`, cron) only sees the exit code, so it
must tell the truth: a clean run, a run that left rows behind, a run that never
started because of its input, a run stopped by the API refusing us, and a run
stopped because the API did not answer (a retry later may be all it takes). The
README table is written from this module; the CLI, the Singer target and the
tests all read it from here.
"""

from __future__ import annotations

from typing import Protocol

#: Every row was applied or unchanged (or planned, in a dry run).
OK = 0
#: Failed or rejected rows above `max_failed_ratio`, counted after the run was recorded.
ROWS_FAILED = 1
#: Bad config or bad input source (a setting, a missing table, a query that does not run).
BAD_INPUT = 2
#: A fatal authentication or permission error stopped the run (everything so far recorded).
FATAL_AUTH = 3
#: The API was unreachable (update calls in a row failed past all retries): the run was
#: aborted, what was done is recorded, the unsent rows wait in jing_pending for the next run.
API_UNREACHABLE = 4


class _Outcome(Protocol):
    """What the exit code depends on; `engine.RunSummary` has it."""

    fatal_error: str | None
    api_unreachable: bool
    failed_ratio: float


def for_summary(summary: _Outcome, max_failed_ratio: float) -> int:
    """Map a finished run to its exit code.

    A fatal error wins over the ratio: the rows that were not sent because of it
    are not the rows' fault, and the person must fix the credentials first (or,
    for an unreachable API, simply run again later).
    """
    if summary.fatal_error and summary.api_unreachable:
        return API_UNREACHABLE
    if summary.fatal_error:
        return FATAL_AUTH
    if summary.failed_ratio > max_failed_ratio:
        return ROWS_FAILED
    return OK
