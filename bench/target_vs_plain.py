"""target-jing beside the plain batched script a user would otherwise write, case by case.

    .venv/bin/python bench/target_vs_plain.py [--rounds 3] [--cases 10000@0,100000@0/text,...]

Each case is a number of rows and an API latency (`/text`: the warehouse holds
the sign-in time as text, as warehouses often do, not as a TIMESTAMP). One sandbox (no rate or
in-flight limit, `--latency-ms` set) and one DuckDB table of wanted statuses
(`target_throughput.wanted_frame`: mixed statuses, about two groups per
activity) serve both contenders, each a whole child process as a scheduler runs
it:

- `target-jing sync --duckdb W --table wanted_status`, with its diff, ledger and
  per-row verification, `max_concurrency` 5 and `requests_per_second` 100,000 (a pace
  that never binds, as the plain script has none and this sandbox no limit; at 1,000,
  the pace alone keeps 1,948 calls from starting in under 1.95 s:
  `--requests-per-second 1000` shows it);
- `bench/plain_writeback.py`: DuckDB -> pandas groupby on the activity and the
  values -> chunks of 100 -> one `requests.Session`, one call at a time.

Before every run the sandbox's data is reset to its seed, so both start from the
same statuses and make the minimum calls. Rounds are interleaved (the order of
the two alternates) and the medians are printed: whole-process seconds, the ratio
(plain seconds / target-jing seconds; above 1 target-jing is faster), update calls
counted by the sandbox, peak RSS and CPU seconds (the child's rusage). After each
target-jing run, the same run again on its ledger: the no-op re-run. Then the
start-up: `target-jing sync --help` and a one-row run. Figures only; no pass/fail.
The project's packages are byte-compiled first, as an install from a wheel has them.
The CPU seconds of a fixed loop, at the start and at the end, say how fast the machine
was: it drifts by a third from hour to hour, and CPU seconds drift with it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from target_throughput import (
    BATCH_PATH,
    TARGET_JING,
    compile_as_installed,
    sandbox_for,
    vm_hwm_kb,
    wanted_frame,
    write_warehouse,
)

from jing_sandbox.process import SandboxProcess

PLAIN = str(Path(__file__).with_name("plain_writeback.py"))
DEFAULT_CASES = "10000@0,100000@0,100000@0/text,10000@20,100000@100"
#: target-jing's settings; `--requests-per-second` sets the pace.
TARGET_SETTINGS = {"requests_per_second": 100_000, "max_concurrency": 5}


class Run(NamedTuple):
    """One child process: wall and CPU seconds, peak RSS (MB), update calls, exit code."""

    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    calls: int
    returncode: int


def run_child(command: list[str], sandbox: SandboxProcess) -> Run:
    """Run `command` to its end: CPU time from its rusage, peak RSS from its VmHWM.

    Not rusage's `ru_maxrss`: on Linux a child's starts at this process's size at
    the fork, before the exec, and this process holds the sandbox's registrations.
    """
    before = sandbox.stats()["calls"].get(BATCH_PATH, 0)
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak_kb = 0
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        peak_kb = max(peak_kb, vm_hwm_kb(child.pid))
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    calls = sandbox.stats()["calls"].get(BATCH_PATH, 0) - before
    return Run(seconds, usage.ru_utime + usage.ru_stime, peak_kb / 1024, calls, child.returncode)


def target_command(sandbox: SandboxProcess, workdir: Path, ledger: Path) -> list[str]:
    config = workdir / "target-config.json"
    config.write_text(
        json.dumps(
            sandbox.config(
                ledger_path=str(ledger), progress_interval_seconds=3600, **TARGET_SETTINGS
            )
        )
    )
    warehouse = str(workdir / "warehouse.duckdb")
    return [TARGET_JING, "sync", "--config", str(config), "--duckdb", warehouse]


def plain_command(sandbox: SandboxProcess, workdir: Path) -> list[str]:
    warehouse = str(workdir / "warehouse.duckdb")
    return [
        sys.executable,
        PLAIN,
        warehouse,
        "wanted_status",
        sandbox.url,
        sandbox.app_id,
        sandbox.app_secret,
    ]


def median_run(runs: list[Run]) -> Run:
    return Run(*(statistics.median(getattr(r, f) for r in runs) for f in Run._fields))


def one_case(rows: int, latency_ms: float, rounds: int, *, text_times: bool) -> dict[str, Run]:
    """The medians of `rounds` interleaved rounds of each contender, and of the no-op re-run.

    With `text_times`, the warehouse holds the sign-in time as text
    (`2025-10-01 08:00:00`), as warehouses often do, not as a TIMESTAMP.
    """
    results: dict[str, list[Run]] = {"target-jing": [], "plain script": [], "no-op re-run": []}
    with sandbox_for(rows) as sandbox, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        frame = wanted_frame(sandbox.registrations())
        if text_times:
            frame["signin_time"] = frame["signin_time"].dt.strftime("%Y-%m-%d %H:%M:%S")
        write_warehouse(workdir / "warehouse.duckdb", frame)
        sandbox.configure(latency_ms=latency_ms)
        for round_ in range(rounds):
            order = ["target-jing", "plain script"]
            for name in order if round_ % 2 == 0 else order[::-1]:
                sandbox.reset(data=True)
                if name == "plain script":
                    results[name].append(run_child(plain_command(sandbox, workdir), sandbox))
                    continue
                ledger = workdir / f"ledger-{round_}.duckdb"
                command = [*target_command(sandbox, workdir, ledger), "--table", "wanted_status"]
                results[name].append(run_child(command, sandbox))
                results["no-op re-run"].append(run_child(command, sandbox))
    return {name: median_run(runs) for name, runs in results.items()}


def start_up() -> None:
    """Whole-process seconds of `sync --help` and of a one-row run (medians of 5)."""
    help_runs = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([TARGET_JING, "sync", "--help"], capture_output=True, check=True)
        help_runs.append(time.perf_counter() - started)
    with sandbox_for(100) as sandbox, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        write_warehouse(workdir / "warehouse.duckdb", wanted_frame(sandbox.registrations()[:1]))
        one_row = []
        for run in range(5):
            sandbox.reset(data=True)
            command = target_command(sandbox, workdir, workdir / f"ledger-{run}.duckdb")
            one_row.append(run_child([*command, "--table", "wanted_status"], sandbox).seconds)
    print(f"start-up: `target-jing sync --help` {statistics.median(help_runs):.2f} s (goal < 0.3)")
    print(f"start-up: a one-row run {statistics.median(one_row):.2f} s (goal < 1)")


def machine_speed() -> float:
    """Seconds of CPU that a fixed loop takes here now (best of 3).

    The machine's speed drifts by a third from hour to hour; with this beside the
    table, CPU seconds of different runs can be told apart from the machine's.
    """
    runs = []
    for _ in range(3):
        started = time.process_time()
        sum(range(20_000_000))
        runs.append(time.process_time() - started)
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--cases", default=DEFAULT_CASES, help="ROWS@LATENCY_MS[/text],... (/text: text times)"
    )
    parser.add_argument(
        "--requests-per-second",
        type=float,
        default=TARGET_SETTINGS["requests_per_second"],
        help="target-jing's pace",
    )
    args = parser.parse_args()
    TARGET_SETTINGS["requests_per_second"] = args.requests_per_second
    compile_as_installed()
    print(
        f"target-jing with {TARGET_SETTINGS}; the plain script one call at a time; "
        f"medians of {args.rounds} interleaved rounds; load average {os.getloadavg()[0]:.2f}; "
        f"a fixed CPU loop {machine_speed():.2f} s"
    )
    print()
    print(
        "| rows | latency | times | contender | seconds | ratio | update calls | peak RSS MB "
        "| CPU s |"
    )
    print("|---:|---:|---|---|---:|---:|---:|---:|---:|")
    for case in args.cases.split(","):
        rows_text, _, rest = case.partition("@")
        latency_text, _, kind = rest.partition("/")
        rows, latency, text_times = int(rows_text), float(latency_text), kind == "text"
        medians = one_case(rows, latency, args.rounds, text_times=text_times)
        plain = medians["plain script"]
        for name, run in medians.items():
            ratio = f"{plain.seconds / run.seconds:.2f}" if name == "target-jing" else ""
            print(
                f"| {rows:,} | {latency:g} ms | {'text' if text_times else 'TIMESTAMP'} | "
                f"{name} | {run.seconds:.2f} | {ratio} | "
                f"{run.calls:,.0f} | {run.peak_rss_mb:,.0f} | {run.cpu_seconds:.2f} |",
                flush=True,
            )
    print()
    start_up()
    print(
        f"load average at the end: {os.getloadavg()[0]:.2f}; "
        f"the fixed CPU loop {machine_speed():.2f} s"
    )


if __name__ == "__main__":
    main()
