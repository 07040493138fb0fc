"""`target-jing sync` in a child process, against a real sandbox and real DuckDB files."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from surface_helpers import (
    assert_sandbox_holds,
    minimum_calls,
    run_target,
    summary_of,
    update_calls,
    wanted_rows,
    write_config,
    write_warehouse,
)

from jing_sandbox.process import SandboxProcess
from jing_singer import exit_codes

QUERY = "SELECT * FROM wanted_status"


def sync_query(config: Path, warehouse: Path) -> subprocess.CompletedProcess[str]:
    """`target-jing sync --config C --duckdb W --query Q`, run beside the warehouse."""
    return run_target(
        *("sync", "--config", str(config), "--duckdb", str(warehouse), "--query", QUERY),
        cwd=warehouse.parent,
    )


def test_query_applies_the_wanted_state_with_minimum_calls_then_none(
    small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    rows = wanted_rows(small_sandbox)
    warehouse = write_warehouse(tmp_path / "warehouse.duckdb", rows)
    config = write_config(tmp_path / "config.json", small_sandbox.config())

    first = sync_query(config, warehouse)

    assert first.returncode == exit_codes.OK, first.stderr
    summary = summary_of(first)
    assert summary["status"] == "succeeded"
    assert summary["counts"]["applied"] == len(rows)
    assert update_calls(small_sandbox) == summary["update_calls"] == minimum_calls(rows)
    assert summary["minimum_calls"] == minimum_calls(rows)
    assert_sandbox_holds(small_sandbox, rows)
    # The ledger sits beside the warehouse, and holds a log row for every input row.
    with duckdb.connect(str(tmp_path / "jing_ledger.duckdb"), read_only=True) as ledger:
        logged = ledger.execute("SELECT count(*) FROM jing_sync_log").fetchone()
    assert logged == (len(rows),)

    second = sync_query(config, warehouse)

    assert second.returncode == exit_codes.OK, second.stderr
    again = summary_of(second)
    assert again["update_calls"] == 0
    assert again["counts"]["unchanged"] == len(rows)
    assert update_calls(small_sandbox) == minimum_calls(rows)


def test_table_name_with_sql_metacharacters_is_only_a_name(
    small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    rows = wanted_rows(small_sandbox, limit=20)
    name = 'status"; DROP TABLE keep; --'
    warehouse = write_warehouse(tmp_path / "warehouse.duckdb", rows, table=name)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE keep AS SELECT 1 AS one")
    config = write_config(tmp_path / "config.json", small_sandbox.config())

    proc = run_target(
        "sync", "--config", str(config), "--duckdb", str(warehouse), "--table", name, cwd=tmp_path
    )

    assert proc.returncode == exit_codes.OK, proc.stderr
    assert summary_of(proc)["counts"]["applied"] == len(rows)
    assert_sandbox_holds(small_sandbox, rows)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT * FROM keep").fetchall() == [(1,)]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_file_input(small_sandbox: SandboxProcess, tmp_path: Path, suffix: str) -> None:
    rows = wanted_rows(small_sandbox, limit=30)
    path = tmp_path / f"statuses{suffix}"
    frame = pd.DataFrame(rows)
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    config = write_config(tmp_path / "config.json", small_sandbox.config())

    proc = run_target("sync", "--config", str(config), "--file", str(path), cwd=tmp_path)

    assert proc.returncode == exit_codes.OK, proc.stderr
    assert summary_of(proc)["update_calls"] == minimum_calls(rows)
    assert_sandbox_holds(small_sandbox, rows)
    # Without --duckdb the ledger goes to output/ under the working directory.
    assert (tmp_path / "output" / "jing_ledger.duckdb").is_file()


def test_csv_epoch_times_written_as_numbers_are_applied(
    small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    rows = wanted_rows(small_sandbox, limit=30)
    frame = pd.DataFrame(rows)
    epoch = frame["signin_time"].map(lambda t: None if pd.isna(t) else int(t.timestamp()))
    # A CSV is read as text: "1759305600" (seconds) and "1759305600000" (milliseconds).
    frame["signin_time"] = epoch.astype("Int64") * (1 + 999 * (frame.index % 2))
    path = tmp_path / "statuses.csv"
    frame.to_csv(path, index=False)
    config = write_config(tmp_path / "config.json", small_sandbox.config())

    proc = run_target("sync", "--config", str(config), "--file", str(path), cwd=tmp_path)

    assert proc.returncode == exit_codes.OK, proc.stderr
    assert summary_of(proc)["counts"]["applied"] == len(rows)
    assert_sandbox_holds(small_sandbox, rows)


def test_dry_run_sends_nothing_and_logs_the_plan(
    small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    rows = wanted_rows(small_sandbox, limit=50)
    before = small_sandbox.registrations()
    warehouse = write_warehouse(tmp_path / "warehouse.duckdb", rows)
    config = write_config(tmp_path / "config.json", small_sandbox.config())

    proc = run_target(
        *("sync", "--config", str(config), "--duckdb", str(warehouse), "--table", "wanted_status"),
        "--dry-run",
        cwd=tmp_path,
    )

    assert proc.returncode == exit_codes.OK, proc.stderr
    summary = summary_of(proc)
    assert summary["mode"] == "dry_run"
    assert summary["counts"]["planned"] == len(rows)
    assert summary["minimum_calls"] == minimum_calls(rows)
    assert update_calls(small_sandbox) == 0
    assert small_sandbox.registrations() == before


def test_rejected_rows_exit_1_unless_the_ratio_allows_them(
    small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    rows = wanted_rows(small_sandbox, limit=10)
    bad = {**rows[0], "user_id": "not-a-registrant", "approve_status": "7"}
    warehouse = write_warehouse(tmp_path / "warehouse.duckdb", [*rows, bad])
    strict = write_config(tmp_path / "strict.json", small_sandbox.config())
    lenient = write_config(tmp_path / "lenient.json", {"max_failed_ratio": 0.5})
    args = ("sync", "--duckdb", str(warehouse), "--table", "wanted_status")

    proc = run_target(*args, "--config", str(strict), cwd=tmp_path)

    assert proc.returncode == exit_codes.ROWS_FAILED, proc.stderr
    summary = summary_of(proc)
    assert summary["counts"]["rejected"] == 1
    assert summary["counts"]["applied"] == len(rows)
    assert_sandbox_holds(small_sandbox, rows)
    # Several --config files merge, later ones win: the ratio now tolerates the bad row.
    again = run_target(*args, "--config", str(strict), "--config", str(lenient), cwd=tmp_path)
    assert again.returncode == exit_codes.OK, again.stderr
    assert summary_of(again)["counts"]["rejected"] == 1


@pytest.mark.parametrize(
    ("config", "source", "named"),
    [
        ({"app_id": ""}, ("--table", "wanted_status"), "app_id"),
        ({"batch_size": 500}, ("--table", "wanted_status"), "batch_size"),
        ({"max_failed_ratio": "lots"}, ("--table", "wanted_status"), "max_failed_ratio"),
        ({"source_timezone": "Mars/Base"}, ("--table", "wanted_status"), "source_timezone"),
        ({}, ("--table", "no_such_table"), "no_such_table"),
        ({}, ("--query", "SELECT * FROM nowhere"), "nowhere"),
        ({}, ("--query", "DELETE FROM wanted_status"), "--query"),
    ],
)
def test_bad_config_or_input_exits_2_with_one_clear_message(
    small_sandbox: SandboxProcess,
    tmp_path: Path,
    config: dict[str, object],
    source: tuple[str, str],
    named: str,
) -> None:
    warehouse = write_warehouse(tmp_path / "warehouse.duckdb", wanted_rows(small_sandbox, 5))
    path = write_config(tmp_path / "config.json", small_sandbox.config(**config))

    proc = run_target(
        "sync", "--config", str(path), "--duckdb", str(warehouse), *source, cwd=tmp_path
    )

    assert proc.returncode == exit_codes.BAD_INPUT
    assert named in proc.stderr
    assert "Traceback" not in proc.stderr
    assert small_sandbox.app_secret not in proc.stderr + proc.stdout
    assert update_calls(small_sandbox) == 0
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM wanted_status").fetchone() == (5,)


@pytest.mark.parametrize(
    "args",
    [
        ("--config", "missing.json", "--file", "x.csv"),
        ("--config", "c.json", "--duckdb", "w.duckdb"),
        ("--config", "c.json", "--file", "x.csv", "--table", "t"),
        ("--config", "c.json", "--file", "rows.txt"),
        ("--config", "c.json", "--duckdb", "missing.duckdb", "--table", "t"),
    ],
)
def test_bad_command_lines_exit_2_without_traceback(tmp_path: Path, args: tuple[str, ...]) -> None:
    write_config(tmp_path / "c.json", {"app_id": "1", "app_secret": "s3cr3t-value-x"})
    (tmp_path / "rows.txt").write_text("activity_id,user_id\n")

    proc = run_target("sync", *args, cwd=tmp_path)

    assert proc.returncode == exit_codes.BAD_INPUT
    assert "Traceback" not in proc.stderr
    assert "s3cr3t-value-x" not in proc.stderr


WRONG_SECRET = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("cause", ["wrong app_secret", "permission refused"])
def test_fatal_auth_or_permission_error_exits_3_with_rows_kept_pending(
    small_sandbox: SandboxProcess, tmp_path: Path, cause: str
) -> None:
    rows = wanted_rows(small_sandbox, limit=10)
    warehouse = write_warehouse(tmp_path / "warehouse.duckdb", rows)
    if cause == "wrong app_secret":
        config = write_config(tmp_path / "c.json", small_sandbox.config(app_secret=WRONG_SECRET))
    else:
        config = write_config(tmp_path / "c.json", small_sandbox.config())
        small_sandbox.faults(path="/v1/activity/update/userStatus/batch", permission=1.0)

    proc = sync_query(config, warehouse)

    assert proc.returncode == exit_codes.FATAL_AUTH, proc.stderr
    assert summary_of(proc)["fatal_error"]
    assert "Stopped: " in proc.stderr
    assert "Traceback" not in proc.stderr
    assert WRONG_SECRET not in proc.stdout + proc.stderr
    assert WRONG_SECRET.encode() not in (tmp_path / "jing_ledger.duckdb").read_bytes()
    # The run is recorded and nothing is lost: every row waits in jing_pending.
    with duckdb.connect(str(tmp_path / "jing_ledger.duckdb"), read_only=True) as ledger:
        assert ledger.execute("SELECT count(*) FROM jing_pending").fetchone() == (len(rows),)


def test_unreachable_api_exits_4_with_rows_pending_then_a_later_run_applies_them(
    small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    rows = wanted_rows(small_sandbox)
    warehouse = write_warehouse(tmp_path / "warehouse.duckdb", rows)
    config = write_config(
        tmp_path / "c.json",
        small_sandbox.config(max_attempts=1, backoff_base_seconds=0, max_concurrency=1),
    )
    small_sandbox.faults(path="/v1/activity/update/userStatus/batch", http_5xx=1.0)

    proc = sync_query(config, warehouse)

    assert proc.returncode == exit_codes.API_UNREACHABLE, proc.stderr
    summary = summary_of(proc)
    assert summary["status"] == "aborted"
    assert summary["api_unreachable"] is True
    assert "ApiUnreachable" in summary["fatal_error"]
    assert "Traceback" not in proc.stderr
    # Sending stopped (3 failed calls in a row, plus those in flight): every row is logged
    # failed and waits in jing_pending.
    assert summary["update_calls"] < summary["minimum_calls"]
    with duckdb.connect(str(tmp_path / "jing_ledger.duckdb"), read_only=True) as ledger:
        pending = ledger.execute("SELECT count(*) FROM jing_pending").fetchone()
        outcomes = ledger.execute("SELECT outcome, count(*) FROM jing_sync_log GROUP BY 1")
        assert pending == (summary["rows_in"],)
        assert outcomes.fetchall() == [("failed", summary["rows_in"])]

    small_sandbox.faults()
    again = sync_query(config, warehouse)

    assert again.returncode == exit_codes.OK, again.stderr
    assert_sandbox_holds(small_sandbox, rows)


def test_settings_from_env_as_meltano_passes_them(
    small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    rows = wanted_rows(small_sandbox, limit=30)
    warehouse = write_warehouse(tmp_path / "warehouse.duckdb", rows)
    env = {
        "TARGET_JING_APP_ID": small_sandbox.app_id,
        "TARGET_JING_APP_SECRET": small_sandbox.app_secret,
        "TARGET_JING_BASE_URL": small_sandbox.url,
        "TARGET_JING_BATCH_SIZE": "7",
        "TARGET_JING_REQUESTS_PER_SECOND": "500.5",
        "TARGET_JING_PROGRESS_INTERVAL_SECONDS": "0.5",
        "TARGET_JING_STREAMS": '["ignored_here"]',
        "TARGET_JING_COLUMN_MAPPING": '{"omni_user_uuid": "user_id"}',
    }

    proc = run_target(
        *("sync", "--config", "ENV", "--duckdb", str(warehouse), "--query", QUERY),
        cwd=tmp_path,
        env=env,
    )

    assert proc.returncode == exit_codes.OK, proc.stderr
    assert summary_of(proc)["update_calls"] == minimum_calls(rows, batch_size=7)
    assert_sandbox_holds(small_sandbox, rows)
    assert "progress: " in proc.stderr
    assert small_sandbox.app_secret not in proc.stdout + proc.stderr


def test_no_secret_or_token_in_output_or_ledger(
    small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    rows = wanted_rows(small_sandbox, limit=40)
    warehouse = write_warehouse(tmp_path / "warehouse.duckdb", rows)
    config = write_config(tmp_path / "config.json", small_sandbox.config())
    small_sandbox.configure(expire_token_every=3)

    proc = sync_query(config, warehouse)

    assert proc.returncode == exit_codes.OK, proc.stderr
    issued = small_sandbox.tokens()
    secrets = [small_sandbox.app_secret, *issued.get("access", []), *issued.get("refresh", [])]
    assert len(secrets) > 2
    ledger = (tmp_path / "jing_ledger.duckdb").read_bytes()
    for secret in secrets:
        assert secret not in proc.stdout + proc.stderr
        assert secret.encode() not in ledger


def test_the_summary_groups_why_rows_did_not_apply(
    small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """Three kinds of failure: grouped, counted, most frequent first, with example rows."""
    regs = small_sandbox.registrations()
    activity = regs[0]["target_entity_uuid"]
    lines = ["activity_id,user_id,approve_status"]
    lines += [f"{activity},ghost_{n},1" for n in range(5)]  # not registered: 5
    lines += [f"{r['target_entity_uuid']},{r['omni_user_uuid']},7" for r in regs[:3]]  # bad: 3
    lines += [f"noSuchActivity,u{n},1" for n in range(2)]  # unknown activity: 2
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n")
    config = write_config(
        tmp_path / "c.json", small_sandbox.config(ledger_path=str(tmp_path / "l.duckdb"))
    )
    done = run_target("sync", "--config", str(config), "--file", "rows.csv", cwd=tmp_path)
    assert done.returncode == exit_codes.ROWS_FAILED
    out = done.stdout.splitlines()
    start = out.index("  why rows did not apply (most frequent first):")
    groups = [
        line.strip()
        for line in out[start + 1 :]
        if line.startswith("    ") and not line.startswith("      ")
    ]
    assert [g.split(" ", 1)[0] for g in groups] == ["5", "3", "2"]
    assert "not registered" in groups[0] and "not one of the allowed statuses" in groups[1]
    assert "40400" in groups[2]
    assert f"e.g. {activity}/ghost_0, {activity}/ghost_1, {activity}/ghost_2" in done.stdout
    assert f"ledger: {tmp_path / 'l.duckdb'}" in done.stdout or "ledger: l.duckdb" in done.stdout
    assert summary_of(done)["reasons"][0]["rows"] == 5
    logs = [line for line in done.stderr.splitlines() if not line.startswith("progress:")]
    assert logs and all(line[:4].isdigit() and " | " in line for line in logs), logs[:3]


def test_the_warehouse_is_let_go_once_its_rows_are_staged(
    small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """The staged rows are durable in the ledger: the source's connection (its cache, a
    server's cursor) is closed before the run plans and sends, not held to the end."""
    from target_jing import shell
    from target_jing.engine import SyncRun
    from target_jing.sync_command import _opened
    from target_jing.sync_options import parse

    rows = wanted_rows(small_sandbox, limit=10)
    warehouse = write_warehouse(tmp_path / "warehouse.duckdb", rows)
    args = parse(["--config", "-", "--duckdb", str(warehouse), "--table", "wanted_status"])
    settings = shell.settings_from(small_sandbox.config(), warehouse_path=warehouse)
    with _opened(args) as stage, SyncRun(settings) as run:
        with pytest.raises(duckdb.Error):  # this process holds the file read-only
            duckdb.connect(str(warehouse)).close()
        assert stage(run) == 10
        duckdb.connect(str(warehouse)).close()  # read-write: nobody holds it now
        assert run.finish().counts["applied"] == 10


def _signin(row: dict[str, Any]) -> tuple[Any, Any]:
    return row["signin_status"], row["signin_time"]


def _imported(proc: subprocess.CompletedProcess[str]) -> set[str]:
    """The modules a child run with PYTHONPROFILEIMPORTTIME imported, or tried to (stderr)."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def _numpy_loaded(imported: set[str]) -> bool:
    """Whether numpy was loaded (`numpy` alone is listed when its import is only tried)."""
    return any(name.startswith("numpy.") for name in imported)


def test_a_warehouse_of_good_rows_is_checked_without_pandas_and_a_bad_row_with_it(
    small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """Typed good rows are checked in DuckDB; a bad row brings the full checks, which name it."""
    rows = wanted_rows(small_sandbox, limit=30)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute(
            "CREATE TABLE wanted_status (activity_id VARCHAR, user_id VARCHAR, "
            "approve_status INTEGER, signin_status VARCHAR, signin_time TIMESTAMP)"
        )
        con.executemany(
            "INSERT INTO wanted_status VALUES (?, ?, ?, ?, ?)",
            [(r["activity_id"], r["user_id"], int(r["approve_status"]), *_signin(r)) for r in rows],
        )
    config = write_config(tmp_path / "config.json", small_sandbox.config())
    profile = {"PYTHONPROFILEIMPORTTIME": "1"}

    good = run_target(
        *("sync", "--config", str(config), "--duckdb", str(tmp_path / "warehouse.duckdb")),
        *("--table", "wanted_status"),
        cwd=tmp_path,
        env=profile,
    )

    assert good.returncode == exit_codes.OK, good.stderr[-2000:]
    assert summary_of(good)["counts"]["applied"] == len(rows)
    assert_sandbox_holds(small_sandbox, rows)
    # `pandas` itself is listed when an import of it is tried (pyarrow_private); the
    # frame module is what an import that happened brings.
    assert "duckdb" in _imported(good) and "pandas.core.frame" not in _imported(good)
    assert "jsonschema" not in _imported(good)  # the settings are checked by jsonschema_rs
    # pyarrow records the answers as where numpy is not installed (`pyarrow_private`).
    assert "pyarrow.lib" in _imported(good) and not _numpy_loaded(_imported(good))
    assert "pyarrow.compute" not in _imported(good)  # its functions are called by name

    # Nothing to send: the rows are staged inside DuckDB, and pyarrow is never needed.
    again = run_target(
        *("sync", "--config", str(config), "--duckdb", str(tmp_path / "warehouse.duckdb")),
        *("--table", "wanted_status"),
        cwd=tmp_path,
        env=profile,
    )
    assert summary_of(again)["counts"]["unchanged"] == len(rows)
    assert "pyarrow.lib" not in _imported(again) and "pandas.core.frame" not in _imported(again)

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute(
            "UPDATE wanted_status SET approve_status = 7 WHERE user_id = ?", [rows[3]["user_id"]]
        )
        other = 3 - int(rows[4]["approve_status"])  # one row to send, after the bad one
        con.execute(
            "UPDATE wanted_status SET approve_status = ? WHERE user_id = ?",
            [other, rows[4]["user_id"]],
        )
    bad = run_target(
        *("sync", "--config", str(config), "--duckdb", str(tmp_path / "warehouse.duckdb")),
        *("--table", "wanted_status"),
        cwd=tmp_path,
        env=profile,
    )

    # The bad batch brought pandas, and numpy with it: pyarrow then records with numpy.
    assert "pandas.core.frame" in _imported(bad) and _numpy_loaded(_imported(bad))
    counts = summary_of(bad)["counts"]
    assert (counts["rejected"], counts["applied"], counts["unchanged"]) == (1, 1, len(rows) - 2)
    with duckdb.connect(str(tmp_path / "jing_ledger.duckdb"), read_only=True) as ledger:
        (reason,) = ledger.execute(
            "SELECT reason FROM jing_sync_log WHERE outcome = 'rejected'"
        ).fetchone()
    assert reason.startswith("row 3 of ") and "column 'approve_status'" in reason
