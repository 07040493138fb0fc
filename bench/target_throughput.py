"""Rows per second of `target-jing sync`, its calls against the minimum, and its memory.

    .venv/bin/python bench/target_throughput.py [--rows 100000] [--big-rows 1000000]

A sandbox holds 1,000 activities and 100,000 registrations; a DuckDB table holds
one wanted row per registration, with mixed statuses (each activity has a main
combination of approval and sign-in, and about one registrant in ten is
rejected instead). `target-jing sync` runs in a child process, as a scheduler
runs it; its peak RSS is the child's VmHWM. Printed:

1. rows/s, update calls against the minimum (computed here in SQL), peak RSS; then
   the same run with the ledger on PostgreSQL (`ledger_url`, a server the bench
   starts as the tests do) against the DuckDB file, and its re-run (0 calls);
2. a plain script posting one row per call (sequential, one keep-alive session)
   on a sample of the rows, extrapolated to all of them, and the ratio;
3. the sandbox limited to 20 requests/s (the client at its default 20/s): rows/s
   against the ceiling of 20 calls/s x 100 rows. The mixed data above cannot
   reach that ceiling (its groups are not multiples of 100 users), so this part
   has its own sandbox of 100 activities and data that fills every chunk: per
   activity one set of values for a multiple of 100 registrants;
4. a second run of 3: seconds and update calls (must be 0);
5. peak RSS at `--big-rows` rows (a sandbox of that many registrations);
6. four shards at once against the sandbox at 20 requests/s, on DuckDB ledgers and on
   one PostgreSQL ledger (`target_shards.py`, which also runs alone).

Figures only; nothing passes or fails.
"""

from __future__ import annotations

import argparse
import compileall
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pandas as pd
import requests

from jing_sandbox.process import SandboxProcess

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from pg_server import PostgresServer  # the tests' server (tests/ is not a package)

BATCH_PATH = "/v1/activity/update/userStatus/batch"
TARGET_JING = str(Path(sys.executable).parent / "target-jing")
CEILING_CALLS_PER_SECOND = 20
BATCH = 100


class Run(NamedTuple):
    summary: dict[str, Any]
    seconds: float
    peak_rss_mb: float
    sandbox_calls: int


def compile_as_installed() -> None:
    """Byte-compile the project's packages, as pip does when it installs a wheel.

    The checkout is installed editable, and where PYTHONDONTWRITEBYTECODE is set
    (this image sets it) a child would compile every changed module of ours again
    at each start: 50-70 ms that an installed target-jing does not spend.
    """
    root = Path(__file__).resolve().parent.parent
    for package in ("jing_client", "target_jing", "tap_jing", "jing_sandbox", "jing_singer"):
        compileall.compile_dir(root / package, quiet=1)


def wanted_frame(registrations: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per registration: a main status per activity, one in ten rejected instead."""
    regs = pd.DataFrame(registrations)
    activity = pd.Series(pd.factorize(regs["target_entity_uuid"])[0])
    odd_one = pd.util.hash_pandas_object(regs["omni_user_uuid"], index=False) % 10 == 0
    approve = (1 + activity % 2).astype(str).where(~odd_one.to_numpy(), "2")
    signed_in = activity % 3 == 0
    signin_time = pd.Timestamp("2025-10-01 08:00:00") + pd.to_timedelta(activity, unit="min")
    return pd.DataFrame(
        {
            "activity_id": regs["target_entity_uuid"],
            "user_id": regs["omni_user_uuid"],
            "approve_status": approve,
            "signin_status": signed_in.map({True: "1", False: "0"}),
            "signin_time": signin_time.where(signed_in),
        }
    )


def full_chunks_frame(registrations: list[dict[str, Any]]) -> pd.DataFrame:
    """Per activity, one set of wanted values for the first multiple of 100 registrants."""
    frame = wanted_frame(registrations)
    activity = frame.groupby("activity_id", sort=False)
    first = activity[["approve_status", "signin_status", "signin_time"]].transform("first")
    frame[first.columns] = first
    keep = activity.cumcount() < activity["user_id"].transform("size") // BATCH * BATCH
    return frame[keep].reset_index(drop=True)


def write_warehouse(path: Path, frame: pd.DataFrame) -> int:
    """Store the rows; return the minimum calls, computed independently of the engine."""
    with duckdb.connect(str(path)) as con:
        con.register("frame", frame)
        con.execute("CREATE TABLE wanted_status AS SELECT * FROM frame")
        (minimum,) = con.execute(
            f"""SELECT sum(ceil(n / {BATCH}))::BIGINT FROM (
                  SELECT count(*) AS n FROM wanted_status
                  GROUP BY activity_id, approve_status, signin_status, signin_time)"""
        ).fetchone()
    return int(minimum)


def run_sync(sandbox: SandboxProcess, workdir: Path, ledger: str, **settings: Any) -> Run:
    """`target-jing sync --duckdb W --table wanted_status` in a child; its summary and VmHWM."""
    config = workdir / f"config-{ledger}.json"
    where = {} if "ledger_url" in settings else {"ledger_path": str(workdir / ledger)}
    config.write_text(
        json.dumps(sandbox.config(progress_interval_seconds=3600, **where, **settings))
    )
    before = _batch_calls(sandbox)
    args = ["sync", "--config", str(config), "--duckdb", str(workdir / "warehouse.duckdb")]
    started = time.monotonic()
    with subprocess.Popen(
        [TARGET_JING, *args, "--table", "wanted_status"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as child:
        peak = 0
        while child.poll() is None:
            peak = max(peak, vm_hwm_kb(child.pid))
            time.sleep(0.05)
        stdout = child.stdout.read() if child.stdout else ""
    seconds = time.monotonic() - started
    summary = json.loads(stdout.strip().splitlines()[-1])
    return Run(summary, seconds, peak / 1024, _batch_calls(sandbox) - before)


def vm_hwm_kb(pid: int) -> int:
    """The process's peak resident set so far (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _batch_calls(sandbox: SandboxProcess) -> int:
    return sandbox.stats()["calls"].get(BATCH_PATH, 0)


def plain_one_row_per_call(sandbox: SandboxProcess, frame: pd.DataFrame) -> float:
    """Post each row alone, in order, as a simple script would; return rows per second."""
    session = requests.Session()
    token = session.post(
        f"{sandbox.url}/v1/oauth2/token",
        json={"app_id": sandbox.app_id, "app_secret": sandbox.app_secret},
        timeout=30,
    ).json()["data"]["access_token"]
    headers = {"app_id": sandbox.app_id, "access_token": token}
    started = time.monotonic()
    for row in frame.itertuples(index=False):
        body = {
            "entity_uuid": row.activity_id,
            "user_ids": [row.user_id],
            "ems_approvestatus": row.approve_status,
            "ems_signinstatus": row.signin_status,
        }
        if not pd.isna(row.signin_time):
            stamp = (row.signin_time + pd.Timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")
            body["ems_signintimestamp"] = stamp
        answer = session.post(f"{sandbox.url}{BATCH_PATH}", json=body, headers=headers, timeout=30)
        answer.raise_for_status()
    return len(frame) / (time.monotonic() - started)


def describe(label: str, run: Run, minimum: int) -> None:
    s = run.summary
    print(
        f"{label}: {s['rows_in']:,} rows in {run.seconds:.1f} s "
        f"({s['rows_in'] / run.seconds:,.0f} rows/s wall, {s['rows_per_second']:,.0f} rows/s "
        f"engine); update calls {s['update_calls']:,} (sandbox counted {run.sandbox_calls:,}), "
        f"minimum {minimum:,} (engine said {s['minimum_calls']:,}); outcomes {s['counts']}; "
        f"peak RSS {run.peak_rss_mb:,.0f} MB; exit code {s['exit_code']}"
    )


def postgres_ledger(
    sandbox: SandboxProcess, workdir: Path, on_file: Run, minimum: int, fast: dict[str, Any]
) -> None:
    """Part 1 again with the ledger in PostgreSQL: a fresh ledger, so the same calls."""
    with tempfile.TemporaryDirectory(prefix="jing-pg-") as folder:
        postgres = PostgresServer.start(Path(folder), durable=True)
        try:
            ledger = {"ledger_url": postgres.url, **fast}
            run = run_sync(sandbox, workdir, "postgres", **ledger)
            describe("1b. unthrottled, ledger in PostgreSQL", run, minimum)
            print(
                f"   PostgreSQL ledger / DuckDB file: {run.seconds / on_file.seconds:.2f}x the "
                f"wall seconds ({run.seconds:.1f} s against {on_file.seconds:.1f} s)"
            )
            again = run_sync(sandbox, workdir, "postgres", **ledger)
            describe("1c. second run of 1b (same ledger)", again, minimum)
        finally:
            postgres.stop()


def sandbox_for(rows: int, per_activity: int = 100) -> SandboxProcess:
    """A sandbox with `rows` registrations over rows/per_activity activities, no rate limit."""
    return SandboxProcess(
        start_timeout=max(30.0, rows / 2_000),  # seeding a million registrations takes minutes
        activities=max(rows // per_activity, 1),
        users=max(rows // 5, 1000),
        registrations=rows,
        rate_limit=0,
        max_in_flight=0,
    )


def throttled(rows: int, minimum_of_mixed: int) -> None:
    """Parts 3 and 4: full chunks, the sandbox at 20 requests/s, then the same run again."""
    with sandbox_for(rows, per_activity=1_000) as sandbox, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        frame = full_chunks_frame(sandbox.registrations())
        minimum = write_warehouse(workdir / "warehouse.duckdb", frame)
        print(
            f"   throttled data: {len(frame):,} rows, {frame['activity_id'].nunique():,} "
            f"activities, {len(frame) / minimum:.1f} rows per minimum call "
            f"(the mixed data: {rows / minimum_of_mixed:.1f})"
        )
        sandbox.configure(rate_limit=CEILING_CALLS_PER_SECOND)
        first = run_sync(sandbox, workdir, "throttled.duckdb")
        describe("3. sandbox at 20 requests/s", first, minimum)
        ceiling = CEILING_CALLS_PER_SECOND * BATCH
        for label, seconds in (("wall", first.seconds), ("engine", first.summary["seconds"])):
            rate = first.summary["rows_in"] / seconds
            print(
                f"   {label}: {rate:,.0f} rows/s = {rate / ceiling:.0%} of the 20 x 100 = "
                f"{ceiling:,} rows/s ceiling; {first.sandbox_calls / seconds:.1f} calls/s"
            )
        print(f"   throttled answers: {sandbox.stats()['throttled']}")
        second = run_sync(sandbox, workdir, "throttled.duckdb")
        describe("4. second run of 3 (same ledger)", second, minimum)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--big-rows", type=int, default=1_000_000, help="0 skips this part")
    parser.add_argument("--plain-sample", type=int, default=2_000)
    parser.add_argument("--skip-throttled", action="store_true", help="skip parts 3 and 4")
    parser.add_argument("--skip-shards", action="store_true", help="skip part 6")
    args = parser.parse_args()
    fast = {"requests_per_second": 1000, "max_concurrency": 5}
    compile_as_installed()

    with sandbox_for(args.rows) as sandbox, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        frame = wanted_frame(sandbox.registrations())
        minimum = write_warehouse(workdir / "warehouse.duckdb", frame)
        print(f"data: {len(frame):,} rows, {frame['activity_id'].nunique():,} activities")

        first = run_sync(sandbox, workdir, "fast.duckdb", **fast)
        describe("1. unthrottled", first, minimum)
        postgres_ledger(sandbox, workdir, first, minimum, fast)

        sample = frame.head(args.plain_sample)
        plain_rate = plain_one_row_per_call(sandbox, sample)
        ours = first.summary["rows_in"] / first.seconds
        print(
            f"2. plain script, one row per call, sequential: {plain_rate:,.0f} rows/s on "
            f"{len(sample):,} rows; {len(frame):,} rows would take "
            f"{len(frame) / plain_rate:,.0f} s ({len(frame):,} calls) against "
            f"{first.seconds:.1f} s; target-jing is {ours / plain_rate:,.1f}x faster "
            f"and makes {len(frame) / max(first.summary['update_calls'], 1):,.0f}x fewer calls"
        )

    if not args.skip_throttled:
        throttled(args.rows, minimum)

    if args.big_rows:
        with sandbox_for(args.big_rows) as sandbox, tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            frame = wanted_frame(sandbox.registrations())
            minimum = write_warehouse(workdir / "warehouse.duckdb", frame)
            del frame
            big = run_sync(sandbox, workdir, "big.duckdb", **fast)
            describe(f"5. {args.big_rows:,} rows", big, minimum)
            print(f"   peak RSS at {args.big_rows:,} rows: {big.peak_rss_mb:,.0f} MB")

    if not args.skip_shards:
        from target_shards import compare  # it imports this module's helpers

        print("6. four shards at once, one budget:")
        compare(args.rows, shards=4)


if __name__ == "__main__":
    main()
