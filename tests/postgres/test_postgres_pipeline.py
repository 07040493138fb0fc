"""Extract into PostgreSQL with MeltanoLabs' target-postgres, decide there, write back from it.

tap-jing's output goes to the real target-postgres (pinned, from PyPI, in a cached venv
of its own), `jing-decide --postgres` runs `transform/postgres/`, and `target-jing sync
--postgres` sends the decisions to the sandbox. The decisions are checked against the
example's rules computed here in Python from the tap's own records.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pg_server import PASSWORD, PostgresServer

from jing_sandbox.process import SandboxProcess

BIN = Path(sys.executable).parent
INSTALL = Path(__file__).with_name("install_target_postgres.sh")
CHECKIN_AT = "2026-03-01 09:30:00+00"


@pytest.fixture(scope="session")
def target_postgres() -> Path:
    done = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return Path(done.stdout.strip().splitlines()[-1]) / "bin" / "target-postgres"


def _extract(sandbox: SandboxProcess, postgres: PostgresServer, loader: Path, tmp: Path) -> str:
    """tap-jing | target-postgres into schema raw; the tap's Singer output, for the checks."""
    tap_config = tmp / "tap.json"
    tap_config.write_text(json.dumps(sandbox.config(requests_per_second=1000)))
    tap = subprocess.run(
        [str(BIN / "tap-jing"), "--config", str(tap_config)],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    loader_config = tmp / "loader.json"
    loader_config.write_text(
        json.dumps(
            {
                "sqlalchemy_url": postgres.url.replace("postgresql://", "postgresql+psycopg://"),
                "default_target_schema": "raw",
            }
        )
    )
    load = subprocess.run(
        [str(loader), "--config", str(loader_config)],
        input=tap.stdout, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert load.returncode == 0, load.stderr[-3000:]
    return tap.stdout


def _expected(singer_output: str, checkins: set[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The example's rules, from the tap's records: approvals of pending registrants, sign-ins."""
    records: dict[str, list[dict[str, Any]]] = {}
    for line in singer_output.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            records.setdefault(message["stream"], []).append(message["record"])
    published = {a["entity_uuid"] for a in records["activities"] if a["status"] == "published"}
    mobile = {
        u["omni_user_uuid"]: any(i.get("type") == "mobile" for i in u.get("identities") or [])
        for u in records["users"]
    }
    expected: dict[tuple[str, str], Any] = {}
    registered = set()
    for r in records["activity_users"]:
        key = (r["target_entity_uuid"], r["omni_user_uuid"])
        registered.add(key)
        pending = r["ems_approvestatus"] == "0" and key[0] in published and key[1] in mobile
        if pending:
            expected[key] = ["1" if mobile[key[1]] else "2", None]
    for key in checkins & registered:
        expected.setdefault(key, [None, None])[1] = "1"
    return {key: tuple(value) for key, value in expected.items()}


@pytest.mark.slow
def test_extract_decide_and_write_back_on_postgres(
    postgres: PostgresServer,
    target_postgres: Path,
    sandbox_factory: Any,
    tmp_path: Path,
) -> None:
    sandbox = sandbox_factory(activities=4, users=150, registrations=400)
    with psycopg.connect(postgres.url, autocommit=True) as con:
        for schema in ("raw", "decide"):
            con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    output = _extract(sandbox, postgres, target_postgres, tmp_path)

    registrations = sandbox.registrations()
    checkins = {(r["target_entity_uuid"], r["omni_user_uuid"]) for r in registrations[:3]}
    with psycopg.connect(postgres.url, autocommit=True) as con:
        con.execute((Path("transform/postgres/00_checkins.sql")).read_text())
        for activity, user in checkins:
            con.execute(
                "INSERT INTO raw.checkins VALUES (%s, %s, %s)", [activity, user, CHECKIN_AT]
            )

    decide = subprocess.run(
        [str(BIN / "jing-decide"), "--postgres", postgres.url],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert decide.returncode == 0, decide.stderr[-3000:]
    assert PASSWORD not in decide.stdout + decide.stderr
    summary = json.loads(decide.stdout.strip().splitlines()[-1])
    assert summary["sql_files"] == ["00_checkins.sql", "10_registrant_status.sql"]

    with psycopg.connect(postgres.url) as con:
        decided = con.execute(
            "SELECT entity_uuid, omni_user_uuid, ems_approvestatus, ems_signinstatus "
            "FROM decide.registrant_status"
        ).fetchall()
    expected = _expected(output, checkins)
    assert expected, "the data has decisions to make"
    assert {(a, u): (p, s) for a, u, p, s in decided} == expected
    assert summary["tables"] == {"decide.registrant_status": len(expected)}

    config = tmp_path / "target.json"
    config.write_text(json.dumps(sandbox.config(ledger_path=str(tmp_path / "ledger.duckdb"))))
    sync = subprocess.run(
        [str(BIN / "target-jing"), "sync", "--config", str(config), "--postgres", postgres.url,
         "--table", "decide.registrant_status"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert sync.returncode == 0, sync.stderr[-3000:]
    held = {(r["target_entity_uuid"], r["omni_user_uuid"]): r for r in sandbox.registrations()}
    for key, (approve, signin) in expected.items():
        if approve is not None:
            assert held[key]["ems_approvestatus"] == approve
        if signin is not None:
            assert held[key]["ems_signinstatus"] == "1"
            assert held[key]["ems_signintimestamp"] == "2026-03-01 17:30:00"


def test_a_broken_decision_file_is_named_and_nothing_changes(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    (tmp_path / "10_bad.sql").write_text("CREATE SCHEMA IF NOT EXISTS decide; SELECT nope;")
    done = subprocess.run(
        [str(BIN / "jing-decide"), "--postgres", postgres.url, "--sql-dir", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "10_bad.sql" in done.stderr and PASSWORD not in done.stderr
    wrong = postgres.url.replace(PASSWORD, "not-it")
    refused = subprocess.run(
        [str(BIN / "jing-decide"), "--postgres", wrong],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2 and "cannot connect" in refused.stderr
