"""What the ledger's database or the machine did to a run: one line naming the cause, and
the exit code a scheduler should see.

A run can be stopped by more than the API: a ledger file that is damaged, locked
or written by another DuckDB release, a full disk, memory running out, the
ledger's PostgreSQL server going away mid-run. Each of these must end as one
redacted line with a documented code, never a traceback (whose last line may
quote a connection URL). Faults that pass by themselves or with room on the
machine (a lost server, a full disk, memory) exit `API_UNREACHABLE` (4, run again
later: the rows stay pending); those that need a person (a damaged file, another
release's file) exit `BAD_INPUT` (2).
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

import duckdb

from jing_client import JingConfigError
from jing_client.redact import first_line
from jing_singer import exit_codes

_STORAGE_VERSION = re.compile(r"version number (\d+)", re.IGNORECASE)
#: Where a DuckDB file's header holds the creating release's version string, and its end.
_RELEASE_AT, _HEADER_END = 0x34, 0x54
#: What DuckDB's and libpq's messages say when the PostgreSQL server went away.
_CONNECTION_LOST = (
    "server closed the connection",
    "terminating connection",
    "connection refused",
    "could not connect",
    "connection to server",
    "no connection to the server",
    "connection is lost",
    "ssl syscall error",
    "consuming input failed",
)


class LedgerBusy(JingConfigError):
    """Another run holds the ledger (a file's lock, an advisory lock): said as such, not as
    a config mistake, though it exits 2 like one (nothing was sent)."""


def open_problem(path: Path, error: BaseException) -> JingConfigError:
    """Why the ledger's DuckDB file at `path` did not open, and what to do about it."""
    text = first_line(error)
    lowered = text.lower()
    if "could not set lock" in lowered or "conflicting lock" in lowered:
        return LedgerBusy(
            f"setting 'ledger_path': {path} is held by another process (another "
            f"target-jing run?): {text}"
        )
    return JingConfigError(f"setting 'ledger_path': {file_problem(path, error)}")


def file_problem(path: Path, error: BaseException) -> str:
    """What is wrong with a DuckDB file (a ledger, a warehouse) that did not open, in one line:
    another release's file names that release and how to read it."""
    text = first_line(error)
    lowered = text.lower()
    version = _STORAGE_VERSION.search(text)
    if version or "storage version" in lowered:
        number = version.group(1) if version else "unknown"
        writer = written_by(path)
        ours = f"v{duckdb.__version__}"
        by = f"DuckDB {writer}" if writer else "another DuckDB release"
        release = (writer or "").lstrip("v")
        install = f" (pip install 'duckdb=={release}' in its environment)" if release else ""
        return (
            f"{path} was written by {by} (storage version {number}), which DuckDB {ours}, the "
            f"one target-jing runs here, cannot read. Run target-jing with a DuckDB that reads "
            f"it{install}, or convert the file: open it with {by} and EXPORT "
            f"DATABASE 'dir', then IMPORT DATABASE 'dir' into a new file with DuckDB {ours}: "
            f"{text}"
        )
    if "corrupt" in lowered or "not a valid duckdb database" in lowered:
        return (
            f"{path} is damaged: restore it from a backup, or move it away (a new ledger "
            f"starts empty and the next run sends every row again): {text}"
        )
    if "no space left on device" in lowered:
        return f"{path} cannot be written: the disk is full: {text}"
    return f"cannot open {path}: {text}"


def written_by(path: Path) -> str | None:
    """The DuckDB release that created the file at `path`, as its header names it (`v2.0.1`).

    A DuckDB file's main header holds, after its checksum, the magic `DUCK`, the
    storage version and flags, then the creating library's version string.
    """
    try:
        with path.open("rb") as handle:
            header = handle.read(_HEADER_END)
    except OSError:
        return None
    if header[8:12] != b"DUCK" or len(header) < _HEADER_END:
        return None
    release = header[_RELEASE_AT:_HEADER_END].split(b"\0", 1)[0].decode("ascii", "replace")
    return release.strip() or None


def classify(error: BaseException) -> tuple[int, str] | None:
    """The exit code and one line for a database or machine fault; None for anything else."""
    if isinstance(error, MemoryError | duckdb.OutOfMemoryException):
        return exit_codes.API_UNREACHABLE, (
            f"out of memory: {first_line(error)}; the rows not sent stay pending. "
            "Give the process more memory, or run shards (--shard K/N)"
        )
    if _disk_full(error):
        return exit_codes.API_UNREACHABLE, (
            f"the disk is full: {first_line(error)}; the next run picks up what this one left. "
            "Free room where the ledger is, then run again"
        )
    if _connection_lost(error):
        return exit_codes.API_UNREACHABLE, (
            f"the connection to PostgreSQL (the ledger or the source) was lost: "
            f"{first_line(error)}; what was recorded before stays, and the next run "
            "finishes this one. Run again later"
        )
    if isinstance(error, duckdb.Error | OSError) or _is_psycopg_error(error):
        return exit_codes.BAD_INPUT, f"the ledger or the source failed: {first_line(error)}"
    return None


def passing(error: BaseException) -> bool:
    """Whether the fault is the machine's or the server's, not the input's (run again later)."""
    fault = classify(error)
    return fault is not None and fault[0] == exit_codes.API_UNREACHABLE


def _disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(error).lower()
    return "no space left on device" in text or "disk full" in text


def _connection_lost(error: BaseException) -> bool:
    if _is_psycopg_error(error) and type(error).__name__ == "OperationalError":
        return True
    if not isinstance(error, duckdb.Error):
        return False
    text = str(error).lower()
    return any(marker in text for marker in _CONNECTION_LOST)


def _is_psycopg_error(error: BaseException) -> bool:
    """Whether `error` is psycopg's (without importing it: the postgres extra is optional)."""
    return any(cls.__module__.startswith("psycopg") for cls in type(error).__mro__)
