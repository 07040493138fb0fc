"""The short chaos matrix (what `make test` runs of `make chaos`), then the leak hunt over it.

Every write-back scenario (faults, kills, a sandbox restart, unregistered users)
and every extract scenario must keep the rules: no lost row, no wrong final
state, no unexpected failure. Everything the matrix produced, logged at DEBUG
level, must hold neither the app secret nor any token the sandboxes issued.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from bench.chaos import DEBUG_LOG, run_matrix
from bench.chaos_extract import EXTRACTS
from bench.chaos_sequences import SEQUENCES
from bench.chaos_setup import Options
from bench.chaos_writeback import SCENARIOS
from bench.leak_hunt import hunt

pytestmark = pytest.mark.slow


def test_the_short_matrix_keeps_every_rule_and_leaks_no_secret(tmp_path: Path) -> None:
    """One test, not two on a shared fixture: xdist would run the matrix once per worker."""
    run = run_matrix(Options.short_matrix(tmp_path / "output"), say=lambda line: None)

    broken = {r.scenario: r.broken_rules() for r in run.results if not r.passed}
    assert broken == {}
    # 1-10, 11, the run sequences, the clean extract, faults 2-8 while extracting, and the
    # resumed extract.
    assert len(run.results) == len(SCENARIOS) + 1 + len(SEQUENCES) + 1 + len(EXTRACTS) + 1
    sequences = [r for r in run.results if r.scenario.startswith("S")]
    assert all(r.false_outcomes == 0 and r.wrong == 0 for r in sequences)
    assert all(r.false_outcomes == 0 for r in run.results if r.false_outcomes is not None)
    by_name = {r.scenario.split(".")[0]: r for r in run.results}
    assert by_name["1"].applied == by_name["1"].rows_in == 2_000
    assert by_name["1"].update_calls == by_name["1"].minimum_calls
    assert by_name["9"].failed, "the kills left rows for the next runs to finish"
    assert by_name["11"].failed == 100 and by_name["11"].applied == 2_000
    assert all(r.rows_in > 1_000 for r in run.results if not r.scenario.startswith("S"))
    assert all(r.rows_in >= 500 for r in sequences)

    assert run.leaks.hits == []
    # The app secret and the tokens of ~20 sandboxes (restarts and expiries issue more).
    assert run.leaks.secrets > 25
    assert run.leaks.files > 40


def test_the_hunt_finds_a_secret_in_text_and_inside_a_duckdb_table(tmp_path: Path) -> None:
    """The hunt is not blind: DuckDB compresses strings, so tables are read, not only bytes."""
    secret = "5a4d0b0e-5e1f-4c7c-9d3b-2a1f0e9d8c7b"
    (tmp_path / DEBUG_LOG).write_text(f"DEBUG header access_token={secret}\n")
    with duckdb.connect(str(tmp_path / "ledger.duckdb")) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute("CREATE TABLE raw.log AS SELECT 'x' || range AS reason FROM range(5000)")
        con.execute("INSERT INTO raw.log VALUES (?)", [f"refused: {secret}"])
    report = hunt([tmp_path], [secret, "short"])
    places = sorted(hit.place for hit in report.hits)
    assert places[0] == "bytes" and "table raw.log" in places
    assert all(secret not in str(hit) for hit in report.hits)
    assert report.secrets == 1  # too short to hunt: "short"
