"""`make demo`: the whole pipeline once, against a local sandbox, in a few minutes.

Set up the Meltano plugins, start the sandbox, extract, seed a check-in list,
decide, write back, re-extract, and show what changed: registrations per status
per activity type, before and after, and the write-back's own summary. The dev
warehouse, ledger and sandbox database under `output/` are started afresh so
that the before/after table shows this run alone; they stay there afterwards for
a look (`duckdb output/warehouse.duckdb`). The sandbox stops even on failure.
`--project DIR` runs it in another copy of the project (the smoke test's, so that
`make test` leaves this `output/` alone).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb

from jing_sandbox.process import SandboxError, SandboxProcess
from orchestrate.meltano_commands import (
    PROJECT_DIR,
    MeltanoFailed,
    install_plugins,
    last_json_line,
    meltano,
)
from orchestrate.status_counts import before_after_table, status_counts

UPDATE_PATH = "/v1/activity/update/userStatus/batch"

#: Who "checks in" at the door: one in `one_in` registrants of each published activity.
SEED_CHECKINS_SQL = """
CREATE OR REPLACE TABLE raw.checkins AS
SELECT r.target_entity_uuid AS entity_uuid,
       r.omni_user_uuid,
       date_trunc('second', now()) AS checked_in_at
FROM raw.activity_users AS r
JOIN raw.activities AS a ON a.entity_uuid = r.target_entity_uuid
WHERE a.status = 'published' AND r.ems_signinstatus = '0' AND hash(r.omni_user_uuid) % ? = 0
"""

T = TypeVar("T")


@dataclass(frozen=True)
class DemoFiles:
    """Where a demo in the project at `project` keeps its files (its `output/`)."""

    project: Path

    @property
    def output(self) -> Path:
        return self.project / "output"

    @property
    def warehouse(self) -> Path:
        return self.output / "warehouse.duckdb"

    @property
    def ledger(self) -> Path:
        return self.output / "jing_ledger.duckdb"

    @property
    def sandbox_db(self) -> Path:
        return self.output / "demo-sandbox.json"

    @property
    def log(self) -> Path:
        return self.output / "demo.log"


def step(title: str, action: Callable[[], T]) -> T:
    """Run one step with a one-line progress report and its duration."""
    print(f"- {title} ...", end="", flush=True)
    started = time.monotonic()
    result = action()
    print(f" done ({time.monotonic() - started:.1f} s)", flush=True)
    return result


def fresh_start(files: DemoFiles) -> None:
    """Remove the previous demo's warehouse, ledger and sandbox data."""
    files.output.mkdir(parents=True, exist_ok=True)
    for path in (files.warehouse, files.ledger, files.sandbox_db, files.log):
        for stale in (path, path.with_name(path.name + ".wal")):
            stale.unlink(missing_ok=True)


def seed_checkins(warehouse: Path, one_in: int = 5) -> int:
    """Write a check-in list into the warehouse (the demo's and the tests'); return its size."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(SEED_CHECKINS_SQL, [one_in])
        return con.execute("SELECT count(*) FROM raw.checkins").fetchone()[0]


def run_pipeline(sandbox: SandboxProcess, files: DemoFiles) -> None:
    """Every step against a running sandbox; print the result."""
    # A setting's environment variable beats meltano.yml: both connectors use this sandbox.
    env = {"TAP_JING_BASE_URL": sandbox.url, "TARGET_JING_BASE_URL": sandbox.url}

    def run(*args: str) -> str:
        return meltano(*args, log=files.log, env=env, project_dir=files.project)

    step(
        "extract: meltano run --full-refresh jing-extract",
        lambda: run("run", "--full-refresh", "jing-extract"),
    )
    before = status_counts(files.warehouse)
    checkins = step(
        "seed raw.checkins (the people at the door)", lambda: seed_checkins(files.warehouse)
    )
    decided = step(
        "decide: meltano invoke jing-decide", lambda: last_json_line(run("invoke", "jing-decide"))
    )
    calls_before = sandbox.stats()["calls"].get(UPDATE_PATH, 0)
    written = step(
        "write back: meltano invoke target-jing-sync:decisions",
        lambda: run("invoke", "target-jing-sync:decisions"),
    )
    calls_after = sandbox.stats()["calls"].get(UPDATE_PATH, 0)
    step(
        "again, as the daily job: meltano run jing-writeback (decide, write back)",
        lambda: run("run", "jing-writeback"),
    )
    repeat_calls = sandbox.stats()["calls"].get(UPDATE_PATH, 0) - calls_after
    step("re-extract: meltano run jing-extract (incremental)", lambda: run("run", "jing-extract"))
    after = status_counts(files.warehouse)

    print()
    print(f"{checkins:,} check-ins seeded; decisions: {decided['tables']}")
    print()
    print("Registrations per activity type and status, as the API holds them:")
    print(before_after_table(before, after))
    print("(registrants of activities that are not published stay pending: the rules skip them)")
    print()
    print("Write-back summary (target-jing sync):")
    print("\n".join(line for line in written.splitlines()[:-1] if line.strip()))
    print(f"  the sandbox counted {calls_after - calls_before:,} update calls")
    print(f"Second write-back (the daily job on the same data): {repeat_calls} update calls")
    print()
    print(
        f"Look closer: duckdb {files.warehouse.relative_to(files.project)} (raw.*, decide.*), "
        f"duckdb {files.ledger.relative_to(files.project)} (jing_sync_runs, jing_sync_log)"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The sandbox's size (its own defaults unless given; the smoke test asks for less)."""
    parser = argparse.ArgumentParser(prog="python -m orchestrate.demo", description=__doc__)
    for name in ("activities", "users", "registrations"):
        parser.add_argument(f"--{name}", type=int, help=f"sandbox {name} (its default if unset)")
    parser.add_argument(
        "--project",
        type=Path,
        default=PROJECT_DIR,
        help="the Meltano project to run in, with its plugins installed (default: this one)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; 0 on success, 1 with the failing step's log tail otherwise."""
    sizes = vars(parse_args(argv))
    files = DemoFiles(sizes.pop("project").resolve())
    started = time.monotonic()
    print("JING pipeline demo: sandbox -> warehouse -> decisions -> write-back")
    fresh_start(files)
    try:
        installed = step("set up: meltano install", lambda: install_plugins(files.log))
        if not installed:
            print("  (the plugins were already installed from these files)")
        with SandboxProcess(db=files.sandbox_db, **sizes) as sandbox:
            print(f"- sandbox listening on {sandbox.url} (its data: {files.sandbox_db.name})")
            run_pipeline(sandbox, files)
    except (MeltanoFailed, SandboxError, duckdb.Error) as err:
        print(f"\nFAILED: {err}\nFull log: {files.log}", file=sys.stderr)
        return 1
    print(f"\nDemo finished in {time.monotonic() - started:.0f} s; the sandbox is stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
