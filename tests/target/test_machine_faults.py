"""Faults of the ledger's database and of the machine: named, with the right exit code."""

from __future__ import annotations

import errno
from pathlib import Path

import duckdb

from jing_singer import exit_codes
from target_jing.machine_faults import LedgerBusy, classify, open_problem

LEDGER = Path("/data/ledger.duckdb")


def test_a_file_of_another_duckdb_release_names_the_version_and_how_to_convert() -> None:
    error = duckdb.IOException(
        "IO Error: Trying to read a database file with version number 999, but we can only "
        "read versions between 64 and 68"
    )
    problem = open_problem(LEDGER, error)
    assert not isinstance(problem, LedgerBusy)
    text = str(problem)
    assert "storage version 999" in text and "EXPORT DATABASE" in text
    assert "another target-jing run" not in text


def test_a_held_file_is_busy_and_a_damaged_one_is_damaged() -> None:
    held = open_problem(LEDGER, duckdb.IOException('Could not set lock on file "x"'))
    assert isinstance(held, LedgerBusy)
    damaged = open_problem(LEDGER, duckdb.IOException("Corrupt database file: checksum"))
    assert "damaged" in str(damaged) and not isinstance(damaged, LedgerBusy)


def test_passing_faults_exit_4_and_the_others_2() -> None:
    full = OSError(errno.ENOSPC, "No space left on device")
    lost = duckdb.IOException('Unable to connect to Postgres at "***": Connection refused')
    for error in (full, lost, MemoryError(), duckdb.OutOfMemoryException("x")):
        fault = classify(error)
        assert fault is not None and fault[0] == exit_codes.API_UNREACHABLE, error
    fault = classify(duckdb.BinderException("no such column"))
    assert fault is not None and fault[0] == exit_codes.BAD_INPUT
    assert classify(ValueError("a bug")) is None
