"""`target-jing runs`, `runs show` and `pending list|retry|drop` in child processes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from surface_helpers import TARGET_JING, run_target, summary_of, write_config

from jing_sandbox.process import SandboxProcess
from jing_singer import exit_codes


def _rows_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text(
        "activity_id,user_id,approve_status\n" + "".join(f"{a},{u},{s}\n" for a, u, s in rows)
    )
    return path


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_pending_rows_are_listed_retried_and_dropped(
    small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    activity = small_sandbox.registrations()[0]["target_entity_uuid"]
    config = write_config(
        tmp_path / "c.json",
        small_sandbox.config(ledger_path=str(tmp_path / "l.duckdb"), pending_max_attempts=1),
    )
    rows = _rows_csv(
        tmp_path / "rows.csv",
        [(activity, "ghost_1", "1"), (activity, "ghost_2", "1"), ("noSuchActivity", "u", "2")],
    )
    first = run_target("sync", "--config", str(config), "--file", str(rows), cwd=tmp_path)
    assert first.returncode == exit_codes.ROWS_FAILED, first.stderr[-2000:]

    listed = run_target(
        "pending", "list", "--config", str(config), "--format", "json", cwd=tmp_path
    )
    assert listed.returncode == 0, listed.stderr
    states = {(r["omni_user_uuid"], r["state"]) for r in _json_lines(listed.stdout)}
    assert states == {("ghost_1", "given_up"), ("ghost_2", "given_up"), ("u", "permanent")}

    table = run_target(
        "pending", "list", "--config", str(config), "--state", "permanent", cwd=tmp_path
    )
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["entity_uuid", "omni_user_uuid", "state"]
    assert len(lines) == 3 and "noSuchActivity" in lines[2]

    small_sandbox.register(activity, ["ghost_1"])
    retried = run_target(
        "pending", "retry", "--config", str(config), "--user", "ghost_1", cwd=tmp_path
    )
    assert retried.returncode == 0 and "1 pending rows back to pending" in retried.stdout
    again = run_target(
        "sync",
        "--config",
        str(config),
        "--file",
        str(_rows_csv(tmp_path / "none.csv", [])),
        cwd=tmp_path,
    )
    summary = summary_of(again)
    assert summary["counts"]["applied"] == 1 and summary["retried"] == 1
    assert summary["exit_code"] == 0

    dropped = run_target(
        "pending", "drop", "--config", str(config), "--reason", "given up", cwd=tmp_path
    )
    assert "1 pending rows dropped" in dropped.stdout
    left = _json_lines(
        run_target(
            "pending", "list", "--config", str(config), "--format", "json", cwd=tmp_path
        ).stdout
    )
    assert [r["omni_user_uuid"] for r in left] == ["u"]
    import duckdb

    with duckdb.connect(str(tmp_path / "l.duckdb"), read_only=True) as con:
        actions = con.execute(
            "SELECT action, omni_user_uuid FROM jing_pending_actions ORDER BY acted_at"
        ).fetchall()
    assert actions == [("retry", "ghost_1"), ("drop", "ghost_2")]


def test_runs_and_runs_show_read_the_ledger(small_sandbox: SandboxProcess, tmp_path: Path) -> None:
    regs = small_sandbox.registrations()[:3]
    config = write_config(
        tmp_path / "c.json", small_sandbox.config(ledger_path=str(tmp_path / "l.duckdb"))
    )
    rows = _rows_csv(
        tmp_path / "rows.csv",
        [(r["target_entity_uuid"], r["omni_user_uuid"], "2") for r in regs]
        + [(regs[0]["target_entity_uuid"], "someone", "7")],
    )
    done = run_target("sync", "--config", str(config), "--file", str(rows), cwd=tmp_path)
    run_id = summary_of(done)["run_id"]
    listed = _json_lines(
        run_target("runs", "--config", str(config), "--format", "json", cwd=tmp_path).stdout
    )
    assert [r["run_id"] for r in listed] == [run_id]
    assert listed[0]["applied"] == 3 and listed[0]["rejected"] == 1
    table = run_target("runs", "--ledger", str(tmp_path / "l.duckdb"), cwd=tmp_path).stdout
    assert run_id in table and table.splitlines()[0].startswith("run_id")
    shown = _json_lines(
        run_target(
            "runs",
            "show",
            run_id,
            "--config",
            str(config),
            "--outcome",
            "rejected",
            "--format",
            "json",
            cwd=tmp_path,
        ).stdout
    )
    assert len(shown) == 1 and "not one of the allowed statuses" in shown[0]["reason"]


def test_output_into_a_closed_pipe_ends_quietly(
    small_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "c.json", small_sandbox.config(ledger_path=str(tmp_path / "l.duckdb"))
    )
    activity = small_sandbox.registrations()[0]["target_entity_uuid"]
    # More lines than a pipe holds (64 KiB), so that the reader leaves while we still write.
    rows = _rows_csv(tmp_path / "rows.csv", [(activity, f"ghost_{n}", "1") for n in range(3000)])
    for command in (
        f"{TARGET_JING} sync --config {config} --file {rows} | head -1",
        f"{TARGET_JING} runs show $({TARGET_JING} runs --ledger {tmp_path / 'l.duckdb'} "
        f"--format json | head -1 | cut -d'\"' -f4) --ledger {tmp_path / 'l.duckdb'} | head -1",
        f"{TARGET_JING} --help | head -1",
    ):
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert "Traceback" not in done.stderr, done.stderr[-2000:]
        assert "BrokenPipe" not in done.stderr and "Exception ignored" not in done.stderr
        assert len(done.stdout.splitlines()) == 1, command
