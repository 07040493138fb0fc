"""A new Meltano project adds tap-jing and target-jing from their Hub definitions and a wheel.

What a data team does to adopt the connectors, outside this checkout: build the
wheel, `meltano init`, `meltano add --from-ref` both definitions in `plugins/`
with pip_url pointing at the wheel (the target with its `target` extra),
`meltano install`, then `meltano run tap-jing target-jsonl` and `meltano invoke
target-jing:sync --file rows.csv` against a sandbox. target-jsonl is the PyPI
release (0.1.4, pinned): MeltanoLabs' variant is not published on PyPI, and
this machine reaches no git host. The README's "Add to your Meltano project"
section shows these same steps.

Then the warehouse a user has today: stock target-duckdb (the Hub's PyPI variant,
`target-duckdb~=0.8`, which brings the current DuckDB, 2.x) loads the extract into
a DuckDB 2 file; a decision step (SQL, as a user's dbt or script would run it) puts
statuses in a table; target-jing writes them back from it, its ledger first a
DuckDB file and then PostgreSQL; `runs` and `pending` read both. A misspelt setting
set with `meltano config set` is refused, with the right name.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from pg_server import PASSWORD, PostgresServer

from jing_sandbox.process import SandboxProcess

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TARGET_JSONL = {
    "name": "target-jsonl",
    "namespace": "target_jsonl",
    "variant": "andyh1203",
    "pip_url": "target-jsonl==0.1.4",
    "executable": "target-jsonl",
    "settings": [{"name": "destination_path", "kind": "string"}],
}
#: The Hub's target-duckdb as a user adds it (jwills' variant: the one on PyPI).
TARGET_DUCKDB = {
    "name": "target-duckdb",
    "namespace": "target_duckdb",
    "variant": "jwills",
    "pip_url": "target-duckdb~=0.8",
    "settings": [
        {"name": "filepath", "kind": "string"},
        {"name": "default_target_schema", "kind": "string"},
    ],
}
#: The user's decision step: approve the pending registrants, reject nobody.
DECIDE_SQL = """
CREATE SCHEMA IF NOT EXISTS decide;
CREATE OR REPLACE TABLE decide.registrant_status AS
SELECT target_entity_uuid AS activity_id, omni_user_uuid AS user_id,
       CASE WHEN ems_approvestatus = '1' THEN '2' ELSE '1' END AS approve_status
FROM raw.activity_users ORDER BY 1, 2 LIMIT 60;
"""
#: Packages that only the target needs: the tap's virtualenv must not hold them.
TARGET_ONLY = ("duckdb", "pandas", "pyarrow")


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def build_wheel(out: Path) -> Path:
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)], ROOT)
    (wheel,) = out.glob("jing_connectors-*.whl")
    return wheel


def set_pip_url(project: Path, kind: str, name: str, pip_url: str) -> None:
    """Point an added plugin at the package to install (a wheel here; PyPI or git alike)."""
    path = project / "meltano.yml"
    data = yaml.safe_load(path.read_text())
    next(p for p in data["plugins"][kind] if p["name"] == name)["pip_url"] = pip_url
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def site_packages(venv: Path) -> Path:
    (found,) = venv.glob("lib/python*/site-packages")
    return found


def size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def jsonl_counts(folder: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in folder.glob("*.jsonl"):
        stream = path.name.rsplit("-", 1)[0]
        with path.open() as lines:
            counts[stream] = counts.get(stream, 0) + sum(1 for _ in lines)
    return counts


def wanted_rows(sandbox: SandboxProcess, count: int) -> list[dict[str, Any]]:
    """Rows that change the approval status of `count` registrations."""
    rows = []
    for item in sandbox.registrations()[:count]:
        new = "2" if item["ems_approvestatus"] != "2" else "1"
        rows.append(
            {
                "activity_id": item["target_entity_uuid"],
                "user_id": item["omni_user_uuid"],
                "approve_status": new,
            }
        )
    return rows


@pytest.mark.slow
def test_a_new_meltano_project_adds_both_connectors_from_a_wheel(
    sandbox: SandboxProcess, postgres: PostgresServer, tmp_path: Path
) -> None:
    wheel = build_wheel(tmp_path / "dist")
    run([str(BIN / "meltano"), "init", "newproj", "--no_usage_stats"], tmp_path)
    project = tmp_path / "newproj"
    meltano = [str(BIN / "meltano")]

    run(
        [
            *meltano,
            "add",
            "tap-jing",
            "--from-ref",
            str(ROOT / "plugins/extractors/tap-jing.yml"),
            "--no-install",
        ],
        project,
    )
    run(
        [
            *meltano,
            "add",
            "target-jing",
            "--from-ref",
            str(ROOT / "plugins/loaders/target-jing.yml"),
            "--no-install",
        ],
        project,
    )
    jsonl_ref = tmp_path / "target-jsonl.yml"
    jsonl_ref.write_text(yaml.safe_dump(TARGET_JSONL))
    run(
        [
            *meltano,
            "add",
            "--plugin-type",
            "loader",
            "target-jsonl",
            "--from-ref",
            str(jsonl_ref),
            "--no-install",
        ],
        project,
    )
    project_file = yaml.safe_load((project / "meltano.yml").read_text())
    added = {
        kind: [p["name"] for p in plugins] for kind, plugins in project_file["plugins"].items()
    }
    duckdb_ref = tmp_path / "target-duckdb.yml"
    duckdb_ref.write_text(yaml.safe_dump(TARGET_DUCKDB))
    run(
        [
            *meltano,
            *("add", "--plugin-type", "loader", "target-duckdb"),
            *("--from-ref", str(duckdb_ref), "--no-install"),
        ],
        project,
    )
    project_file = yaml.safe_load((project / "meltano.yml").read_text())
    added = {
        kind: [p["name"] for p in plugins] for kind, plugins in project_file["plugins"].items()
    }
    assert added == {
        "extractors": ["tap-jing"],
        "loaders": ["target-jing", "target-jsonl", "target-duckdb"],
    }
    set_pip_url(project, "extractors", "tap-jing", str(wheel))
    # The extras of the Hub definition: `runs` and `pending` once crashed there (pytz).
    set_pip_url(project, "loaders", "target-jing", f"{wheel}[target,postgres]")
    run([*meltano, "install"], project)

    out = tmp_path / "jsonl"
    out.mkdir()
    for plugin in ("tap-jing", "target-jing"):
        for key, value in (
            ("base_url", sandbox.url),
            ("app_id", sandbox.app_id),
            ("app_secret", sandbox.app_secret),
        ):
            run([*meltano, "config", "set", plugin, key, value], project)
    run([*meltano, "config", "set", "target-jsonl", "destination_path", str(out)], project)
    env = {**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"}
    run([*meltano, "run", "tap-jing", "target-jsonl"], project, env)

    counts = sandbox.counts()
    assert jsonl_counts(out) == {
        "activities": counts["activities"],
        "activity_users": counts["registrations"],
        "users": counts["users"],
    }

    rows = wanted_rows(sandbox, 25)
    rows_csv = project / "rows.csv"
    with rows_csv.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    stdout = run([*meltano, "invoke", "target-jing:sync", "--file", str(rows_csv)], project, env)
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["exit_code"] == 0 and summary["counts"]["applied"] == len(rows), summary
    held = {
        (r["target_entity_uuid"], r["omni_user_uuid"]): r["ems_approvestatus"]
        for r in sandbox.registrations()
    }
    assert all(held[(r["activity_id"], r["user_id"])] == r["approve_status"] for r in rows)
    # The ledger's commands, in the plugin's own venv.
    assert summary["run_id"] in run([*meltano, "invoke", "target-jing:runs"], project, env)
    shown = run([*meltano, "invoke", "target-jing:runs", "show", summary["run_id"]], project, env)
    assert shown.count("applied") >= len(rows)
    listed = run([*meltano, "invoke", "target-jing:pending", "list"], project, env)
    assert "(none)" in listed

    _warehouse_write_back(project, meltano, env, sandbox, postgres)

    tap_venv = project / ".meltano/extractors/tap-jing/venv"
    installed = {p.name.split("-")[0].lower() for p in site_packages(tap_venv).glob("*.dist-info")}
    assert not installed & set(TARGET_ONLY), installed & set(TARGET_ONLY)
    # The base install serves the tap alone; the target's commands name the extra they need.
    run([str(tap_venv / "bin/tap-jing"), "--about", "--format", "json"], project)
    no_extra = subprocess.run(
        [str(tap_venv / "bin/target-jing"), "--about"], capture_output=True, text=True, check=False
    )
    assert no_extra.returncode == 2
    assert "pip install 'jing-connectors[target]'" in no_extra.stderr
    assert "Traceback" not in no_extra.stderr
    target_venv = project / ".meltano/loaders/target-jing/venv"
    print(
        f"\ntap-jing plugin venv: {size_mb(tap_venv):.0f} MB; "
        f"target-jing plugin venv: {size_mb(target_venv):.0f} MB"
    )


def _warehouse_write_back(
    project: Path,
    meltano: list[str],
    env: dict[str, str],
    sandbox: SandboxProcess,
    postgres: PostgresServer,
) -> None:
    """Extract into a DuckDB 2 file by stock target-duckdb, decide, write back, read the ledger."""
    warehouse = project / "warehouse.duckdb"
    run([*meltano, "config", "set", "target-duckdb", "filepath", str(warehouse)], project)
    run([*meltano, "config", "set", "target-duckdb", "default_target_schema", "raw"], project)
    run([*meltano, "run", "tap-jing", "target-duckdb"], project, env)
    target_python = project / ".meltano/loaders/target-jing/venv/bin/python"
    users_duckdb = project / ".meltano/loaders/target-duckdb/venv/bin/python"
    for python in (target_python, users_duckdb):
        release = run([str(python), "-c", "import duckdb; print(duckdb.__version__)"], project)
        assert release.startswith("2."), (python, release)
    assert warehouse.read_bytes()[0x34:0x36] == b"v2", "a file of DuckDB 2's own"
    script = f"import duckdb; duckdb.connect({str(warehouse)!r}).execute({DECIDE_SQL!r})"
    run([str(users_duckdb), "-c", script], project)
    decided = json.loads(
        run(
            [
                str(users_duckdb),
                "-c",
                "import duckdb, json; print(json.dumps(duckdb.connect("
                f"{str(warehouse)!r}, read_only=True).execute('SELECT * FROM "
                "decide.registrant_status').fetchall()))",
            ],
            project,
        )
    )
    assert len(decided) == 60
    # The ledger where `runs` and `pending` find it (by default it sits beside the warehouse).
    ledger = project / "ledger.duckdb"
    run([*meltano, "config", "set", "target-jing", "ledger_path", str(ledger)], project)
    sync = [*meltano, "invoke", "target-jing:sync", "--duckdb", str(warehouse)]
    sync += ["--table", "decide.registrant_status"]

    # A misspelt setting, set the way Meltano users set them, stops the run before any call.
    run([*meltano, "config", "set", "target-jing", "bach_size", "50"], project)
    calls_before = _update_calls(sandbox)
    refused = subprocess.run(sync, cwd=project, env=env, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "did you mean 'batch_size'" in refused.stdout + refused.stderr
    assert _update_calls(sandbox) == calls_before
    run([*meltano, "config", "unset", "target-jing", "bach_size"], project)

    summary = json.loads(run(sync, project, env).strip().splitlines()[-1])
    assert summary["exit_code"] == 0, summary
    assert summary["counts"]["applied"] + summary["counts"]["unchanged"] == len(decided)
    held = {
        (r["target_entity_uuid"], r["omni_user_uuid"]): r["ems_approvestatus"]
        for r in sandbox.registrations()
    }
    assert all(held[(activity, user)] == status for activity, user, status in decided)
    assert summary["run_id"] in run([*meltano, "invoke", "target-jing:runs"], project, env)

    assert "(none)" in run([*meltano, "invoke", "target-jing:pending", "list"], project, env)
    assert ledger.read_bytes()[0x34:0x36] == b"v2", "the ledger is a DuckDB 2 file too"

    # The same project with its ledger in PostgreSQL: the URL's password stays out of view.
    run([*meltano, "config", "unset", "target-jing", "ledger_path"], project)
    run([*meltano, "config", "set", "target-jing", "ledger_url", postgres.url], project)
    run([*meltano, "config", "set", "target-jing", "ledger_schema", "new_project"], project)
    again = json.loads(run(sync, project, env).strip().splitlines()[-1])
    assert again["exit_code"] == 0 and again["counts"]["applied"] == len(decided), again
    runs = run([*meltano, "invoke", "target-jing:runs", "--format", "json"], project, env)
    assert [json.loads(line)["run_id"] for line in runs.splitlines()] == [again["run_id"]]
    shown = run([*meltano, "invoke", "target-jing:runs", "show", again["run_id"]], project, env)
    assert shown.count("applied") >= len(decided)
    assert "(none)" in run([*meltano, "invoke", "target-jing:pending", "list"], project, env)
    with psycopg.connect(postgres.url) as con:
        logged = con.execute(
            "SELECT count(*) FROM new_project.jing_sync_log WHERE run_id = %s", [again["run_id"]]
        ).fetchone()
    assert logged == (len(decided),)
    assert PASSWORD not in runs + shown
    run([*meltano, "config", "unset", "target-jing", "ledger_url"], project)


def _update_calls(sandbox: SandboxProcess) -> int:
    return sandbox.stats()["calls"].get("/v1/activity/update/userStatus/batch", 0)
