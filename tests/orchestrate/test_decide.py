"""The decision step: the example rules of transform/ and the runner's failure handling."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from orchestrate.decide import DEFAULT_SQL_DIR, main

# The raw tables as target-duckdb writes them: nested `identities` as JSON text.
RAW_TABLES = """
CREATE SCHEMA raw;
CREATE TABLE raw.activities (entity_uuid VARCHAR, activity_type VARCHAR, status VARCHAR);
CREATE TABLE raw.users (omni_user_uuid VARCHAR, identities JSON);
CREATE TABLE raw.activity_users (
    target_entity_uuid VARCHAR, omni_user_uuid VARCHAR,
    ems_approvestatus VARCHAR, ems_signinstatus VARCHAR, updated_time VARCHAR
);
INSERT INTO raw.activities VALUES
    ('pub', 'offline', 'published'), ('draft', 'online', 'draft');
INSERT INTO raw.users VALUES
    ('mobile', '[{"type": "email", "value": "a@b.cn"}, {"type": "mobile", "value": "138"}]'),
    ('email', '[{"type": "email", "value": "c@d.cn"}]'),
    ('none', '[]'),
    ('null', NULL);
INSERT INTO raw.activity_users VALUES
    ('pub', 'mobile', '0', '0', '2025-01-01 00:00:00'),
    ('pub', 'email', '0', '0', '2025-01-01 00:00:00'),
    ('pub', 'none', '0', '0', '2025-01-01 00:00:00'),
    ('pub', 'null', '1', '0', '2025-01-01 00:00:00'),
    ('pub', 'not-yet-extracted', '0', '0', '2025-01-01 00:00:00'),
    ('draft', 'mobile', '0', '0', '2025-01-01 00:00:00');
"""


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(RAW_TABLES)
    return path


def decisions(warehouse: Path) -> dict[tuple[str, str], tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT entity_uuid, omni_user_uuid, ems_approvestatus, ems_signinstatus, "
            "ems_signintimestamp IS NOT NULL FROM decide.registrant_status"
        ).fetchall()
    return {(row[0], row[1]): row[2:] for row in rows}


def test_example_rules_approve_reject_and_sign_in(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute((DEFAULT_SQL_DIR / "00_checkins.sql").read_text())
        con.execute(
            "INSERT INTO raw.checkins VALUES ('pub', 'null', now()), ('pub', 'mobile', now()),"
            " ('pub', 'stranger', now())"
        )
    assert main(["--duckdb", str(warehouse)]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["tables"] == {"decide.registrant_status": 4}
    assert decisions(warehouse) == {
        # pending + mobile: approved; also checked in: signed in, in the same row
        ("pub", "mobile"): ("1", "1", True),
        # pending without a mobile identity: rejected
        ("pub", "email"): ("2", None, False),
        ("pub", "none"): ("2", None, False),
        # already approved, checked in: only the sign-in is sent
        ("pub", "null"): (None, "1", True),
        # nothing for: the draft activity's registrant, the unregistered visitor, and
        # the registrant whose user record is not in the warehouse yet
    }


def test_runs_without_a_checkin_table(warehouse: Path) -> None:
    assert main(["--duckdb", str(warehouse)]) == 0
    assert set(decisions(warehouse)) == {("pub", "mobile"), ("pub", "email"), ("pub", "none")}


def test_a_broken_file_is_named_and_keeps_the_previous_decisions(
    warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--duckdb", str(warehouse)]) == 0
    sql_dir = tmp_path / "transform"
    shutil.copytree(DEFAULT_SQL_DIR, sql_dir)
    (sql_dir / "10_registrant_status.sql").write_text(
        "CREATE OR REPLACE TABLE decide.registrant_status AS SELECT 1 AS x;\n"
        "SELECT no_such_column FROM raw.users;\n"
    )
    assert main(["--duckdb", str(warehouse), "--sql-dir", str(sql_dir)]) == 2
    err = capsys.readouterr().err
    assert "10_registrant_status.sql" in err and "no_such_column" in err
    assert len(decisions(warehouse)) == 3


def test_a_missing_warehouse_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--duckdb", str(tmp_path / "nope.duckdb")]) == 2
    assert "duckdb_path" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [[], ["--duckdb", "w.duckdb", "--postgres", "postgresql://h/db"]], ids=["none", "both"]
)
def test_exactly_one_warehouse_is_asked_for(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JING_DECIDE_DUCKDB_PATH", raising=False)
    monkeypatch.delenv("JING_DECIDE_POSTGRES_URL", raising=False)
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert "give one of --duckdb" in capsys.readouterr().err
