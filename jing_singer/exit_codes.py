"""The exit codes of tap-jing and target-jing, in one place.

A scheduler (Airflow, `meltano schedule`, cron) only sees the exit code, so it
must tell the truth, and both connectors give the same code for the same kind of
mistake: a clean run, a run that left rows behind, a run that never started
because of its config or input, a run stopped by the API refusing us, and a run
stopped because the API did not answer (a retry later may be all it takes).
"""

from __future__ import annotations

from jing_client import (
    JingAuthError,
    JingConfigError,
    JingPermissionError,
    JingTransientError,
)

#: Everything was read (tap), or every row was applied or unchanged (target).
OK = 0
#: target-jing: failed or rejected rows above `max_failed_ratio`, after the run was
#: recorded. tap-jing: an API error that ended the run (a refused parameter, say).
ROWS_FAILED = 1
#: Bad config or bad input (a setting, a --config file, a source, a Singer line).
BAD_INPUT = 2
#: A fatal authentication or permission error stopped the run.
FATAL_AUTH = 3
#: The API was unreachable past every retry (or asked for a wait past the cap), or what
#: the run needs of the machine was (the ledger's PostgreSQL server, disk, memory): the
#: run was aborted; run again later.
API_UNREACHABLE = 4


def for_error(error: BaseException) -> int:
    """The exit code of a run that an exception ended."""
    if isinstance(error, JingConfigError):
        return BAD_INPUT
    if isinstance(error, JingAuthError | JingPermissionError):
        return FATAL_AUTH
    if isinstance(error, JingTransientError):
        return API_UNREACHABLE
    return ROWS_FAILED


def for_status(status: str, stopped_by: str | None = None) -> int:
    """The exit code of a finished target-jing run, from its summary's status.

    The status is decided once, where the summary is made (`engine.SyncRun`); a
    fatal error ("aborted") wins over the ratio, since the rows it left unsent are
    not the rows' fault. `stopped_by` says what stopped an aborted run.
    """
    if status == "aborted":
        return {"unreachable": API_UNREACHABLE, "config": BAD_INPUT}.get(
            stopped_by or "", FATAL_AUTH
        )
    return ROWS_FAILED if status == "failed" else OK
