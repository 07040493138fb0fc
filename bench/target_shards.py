"""Four `target-jing sync --shard K/4` at once against a sandbox that allows 20 requests/s.

    .venv/bin/python bench/target_shards.py [--rows 40000] [--shards 4]

The data fills every chunk (`target_throughput.full_chunks_frame`: per activity one
set of values for a multiple of 100 registrants), so the ceiling is 20 calls/s x 100
rows = 2,000 rows/s. The shards start together as child processes. On DuckDB each
has a ledger file of its own (one file takes one run at a time; the shards'
activities, and so their ledgers' rows, never overlap); on PostgreSQL all four share
one ledger (a server the bench starts, as the tests do). Printed for one run alone,
for DuckDB shards with `shards_share_budget` on (each at 1/N of the 20 requests/s)
and off (each at the full 20), and for PostgreSQL shards with it on (the shards
running at the moment share the 20): wall seconds until the last shard ends, rows/s
against the ceiling, update calls, and the answers the sandbox throttled. Figures
only; no pass/fail.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from target_throughput import (
    BATCH_PATH,
    CEILING_CALLS_PER_SECOND,
    TARGET_JING,
    full_chunks_frame,
    sandbox_for,
    write_warehouse,
)

from jing_sandbox.process import SandboxProcess

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from pg_server import PostgresServer  # the tests' server (tests/ is not a package)

CEILING_ROWS_PER_SECOND = CEILING_CALLS_PER_SECOND * 100


def run_shards(
    sandbox: SandboxProcess, workdir: Path, shards: int, share: bool, ledger_url: str | None = None
) -> None:
    """Start `shards` runs at once, wait for all; print one line of figures."""
    sandbox.reset(data=True)
    engine = "one PostgreSQL ledger" if ledger_url else "DuckDB ledgers"
    label = f"{shards} shard{'s' if shards > 1 else ''}, {engine}, shards_share_budget={share}"
    children = []
    started = time.monotonic()
    for k in range(1, shards + 1):
        config = workdir / f"config-{label}-{k}.json".replace(" ", "_").replace(",", "")
        ledger: dict[str, Any] = (
            {"ledger_url": ledger_url, "ledger_schema": f"bench_{int(started)}"}
            if ledger_url
            else {"ledger_path": str(config.with_suffix(".ledger.duckdb"))}
        )
        config.write_text(
            json.dumps(
                sandbox.config(progress_interval_seconds=3600, shards_share_budget=share, **ledger)
            )
        )
        command = [TARGET_JING, "sync", "--config", str(config), "--duckdb"]
        command += [str(workdir / "warehouse.duckdb"), "--table", "wanted_status"]
        command += ["--shard", f"{k}/{shards}"]
        children.append(
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    summaries = []
    for child in children:
        stdout, stderr = child.communicate()
        if not stdout.strip():
            raise SystemExit(f"a shard printed no summary: {stderr[-2000:]}")
        summaries.append(json.loads(stdout.strip().splitlines()[-1]))
    seconds = time.monotonic() - started
    stats = sandbox.stats()
    calls = stats["calls"].get(BATCH_PATH, 0)
    rows = sum(s["counts"]["applied"] for s in summaries)
    rate = rows / seconds
    share_of_ceiling = rate / CEILING_ROWS_PER_SECOND
    throttled = stats["throttled"]
    print(
        f"| {label} | {rows:,} | {seconds:.1f} | {rate:,.0f} | {share_of_ceiling:.0%} "
        f"| {calls:,} | {throttled:,} ({throttled / max(calls, 1):.1%}) "
        f"| {max(s['exit_code'] for s in summaries)} |",
        flush=True,
    )


def compare(rows: int, shards: int) -> None:
    """One run, then `shards` at once in each of the three ways; a table row each."""
    with (
        sandbox_for(rows, per_activity=1_000) as sandbox,
        tempfile.TemporaryDirectory() as tmp,
        tempfile.TemporaryDirectory(prefix="jing-pg-") as pg_folder,
    ):
        workdir = Path(tmp)
        postgres = PostgresServer.start(Path(pg_folder), durable=True)
        frame = full_chunks_frame(sandbox.registrations())
        write_warehouse(workdir / "warehouse.duckdb", frame)
        sandbox.configure(rate_limit=CEILING_CALLS_PER_SECOND)
        print(
            f"{len(frame):,} rows in {frame['activity_id'].nunique()} activities, full chunks; "
            f"sandbox at {CEILING_CALLS_PER_SECOND} requests/s, ceiling "
            f"{CEILING_ROWS_PER_SECOND:,} rows/s"
        )
        print()
        print("| runs | rows applied | wall s | rows/s | of the ceiling | update calls | "
              "throttled answers | worst exit code |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        try:
            run_shards(sandbox, workdir, 1, share=True)
            run_shards(sandbox, workdir, shards, share=True)
            run_shards(sandbox, workdir, shards, share=False)
            run_shards(sandbox, workdir, shards, share=True, ledger_url=postgres.url)
        finally:
            postgres.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--shards", type=int, default=4)
    args = parser.parse_args()
    compare(args.rows, args.shards)


if __name__ == "__main__":
    main()
