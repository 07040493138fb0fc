"""The process shell of both entry points, `target-jing` (Singer) and `target-jing sync`.

Reading `--config` (files, then `ENV`), stopping on signals, and turning what
ended a run, a summary or an exception, into the exit code a scheduler sees.
The Singer target (`target.py`) and the `sync` command (`cli.py`) both use it,
so the rules are written once.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from jing_client import JingConfigError, JingError
from jing_client.redact import first_line, redact
from jing_singer import exit_codes
from jing_singer.config_input import read_config as read_config_files
from target_jing import machine_faults
from target_jing.settings import SDK_BUILTIN_SETTINGS, TARGET_DECLARATIONS, TargetSettings
from target_jing.sources import SourceError


class _Ended(Protocol):
    """What the exit code of a finished run depends on; `engine.RunSummary` has it."""

    status: str
    stopped_by: str | None


def read_config(values: Sequence[str]) -> dict[str, Any]:
    """Merge `--config` files (later wins) and `ENV` (`TARGET_JING_*` variables).

    Raises `JingConfigError` naming a file that cannot be read.
    """
    return read_config_files(values, TARGET_DECLARATIONS, known=SDK_BUILTIN_SETTINGS)


def settings_from(
    config: dict[str, Any],
    warehouse_path: str | Path | None = None,
    warehouse_url: str | None = None,
) -> TargetSettings:
    """The run's settings, without building a Singer target; `JingConfigError` names a bad one."""
    return TargetSettings.from_config(
        config,
        warehouse_path=warehouse_path,
        warehouse_url=warehouse_url,
        known=SDK_BUILTIN_SETTINGS,
    )


def exit_code(ended: _Ended | BaseException) -> int:
    """The exit code of a run that finished with a summary, or that an exception ended."""
    if isinstance(ended, SourceError):
        return exit_codes.BAD_INPUT
    if isinstance(ended, BaseException):
        fault = None if isinstance(ended, JingError) else machine_faults.classify(ended)
        return fault[0] if fault else exit_codes.for_error(ended)
    return exit_codes.for_status(ended.status, ended.stopped_by)


def stopped_by(error: BaseException, logger: logging.Logger) -> int:
    """Say in one line (secrets redacted) what stopped the run; return its exit code.

    Any exception: a fault of the database or the machine is named as such
    (`machine_faults`), and anything else is a bug, said in one line with the
    traceback at DEBUG level only (a traceback's last line may quote a URL).
    """
    fault = None if isinstance(error, JingError | SourceError) else machine_faults.classify(error)
    if isinstance(error, JingConfigError):
        what = "Ledger busy" if isinstance(error, machine_faults.LedgerBusy) else "Bad config"
        text = str(error)
    elif isinstance(error, SourceError):
        what, text = "Bad input", str(error)
    elif fault is not None:
        what, text = "Stopped", fault[1]
    elif isinstance(error, JingError):
        what, text = "Stopped", str(error)
    else:
        what, text = "Stopped by an unexpected error (please report it)", first_line(error)
        text = f"{type(error).__name__}: {text}"
        logger.debug("where it happened:", exc_info=error)
    logger.error("%s: %s", what, redact(text))
    return fault[0] if fault is not None else exit_code(error)


def stop_on_signals() -> None:
    """SIGTERM and SIGINT end the process as a kill would, after one line on stderr.

    The SDK's handler drains the sinks and exits 0 from inside the signal
    handler: that tells a scheduler the write-back happened, and it can break
    into a ledger transaction half-way. A kill is what the ledger is built to
    survive: what was staged is durable, and the next run finishes it.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop_now)


def _stop_now(signum: int, frame: FrameType | None) -> None:
    """Say why, then die of the signal itself (exit status 128 + signum in a shell)."""
    os.write(2, f"target-jing: stopped by signal {signum}; the next run finishes it\n".encode())
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
