"""`make chaos`: the fault matrix of issue 6, the leak hunt, and docs/RELIABILITY.md.

    python -m bench.chaos [--short] [--only 3,9,E2] [--workdir DIR] [--report PATH]

Runs the write-back scenarios 1 to 11 (20,000 rows each; `--short`: 2,000 rows and
fewer kills, what `make test` runs), the run sequences S1 to S9 (wishes that
change between runs; 4,000 registrations, `--short` 500) and the extract
scenarios, each against its own sandbox, with every log at DEBUG level in the
workdir. Then it hunts the
workdir for the app secret and every token the sandboxes issued, writes the
report, and exits 1 when a scenario broke a rule or a secret leaked.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from bench.chaos_extract import (
    CLEAN,
    EXTRACTS,
    RESUMED,
    Reference,
    run_extract,
    run_reference,
    run_resumed,
)
from bench.chaos_faults import FAULTS
from bench.chaos_report import Result, markdown
from bench.chaos_sequences import SEQUENCES, run_sequence
from bench.chaos_setup import CLIENT_SETTINGS, SANDBOX_LIMITS, SLOW_SECONDS, Options
from bench.chaos_writeback import SCENARIOS, UNREGISTERED, run_unregistered, run_writeback
from bench.fault_kit import FaultResult, run_fault
from bench.fault_kit import markdown as faults_markdown
from bench.leak_hunt import HuntReport, hunt

ROOT = Path(__file__).resolve().parent.parent
DEBUG_LOG = "chaos-debug.log"
PROGRESS_LOG = "chaos-progress.log"


@dataclass
class MatrixRun:
    """Everything the matrix produced: a result per scenario and the leak hunt over the files."""

    results: list[Result]
    leaks: HuntReport
    seconds: float
    #: The fault classes (`bench.chaos_faults`); the short matrix leaves them to their tests.
    faults: list[FaultResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            all(r.passed for r in self.results)
            and all(f.passed for f in self.faults)
            and not self.leaks.hits
        )


def _number(name: str) -> str:
    return name.split(".")[0]


def run_matrix(
    options: Options, only: set[str] | None = None, say: Callable[[str], None] = print
) -> MatrixRun:
    """Run the selected scenarios (all by default) at DEBUG level, then hunt for leaks."""
    started = time.monotonic()
    handler = _debug_log(options.workdir / DEBUG_LOG)
    results: list[Result] = []
    printed = options.workdir / PROGRESS_LOG

    def tell(line: str) -> None:
        """Print, and keep what was printed: the hunt searches this process's output too."""
        say(line)
        with printed.open("a", encoding="utf-8") as out:
            out.write(line + "\n")

    def record(result: Result) -> None:
        results.append(result)
        verdict = "ok" if result.passed else "BROKEN: " + "; ".join(result.broken_rules())
        tell(f"{result.scenario}: {result.seconds:.1f} s, {verdict}")

    def wanted(name: str) -> bool:
        return only is None or _number(name) in only

    try:
        for scenario in SCENARIOS:
            if wanted(scenario.name):
                record(run_writeback(options, scenario))
        if wanted(UNREGISTERED):
            record(run_unregistered(options))
        for sequence in SEQUENCES:
            if wanted(sequence.name):
                record(run_sequence(options, sequence))
        extracts = [e for e in EXTRACTS if wanted(e.name)]
        if extracts or wanted(CLEAN) or wanted(RESUMED):
            reference: Reference = run_reference(options)
            record(reference.result)
            for extract in extracts:
                record(run_extract(options, reference, extract))
            if wanted(RESUMED):
                record(run_resumed(options, reference))
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
        shutil.rmtree(options.private, ignore_errors=True)
    faults: list[FaultResult] = []
    for fault in FAULTS if not options.short else ():
        if wanted(fault.name):
            name = _number(fault.name)
            result = run_fault(fault, options.scenario_dir(name), options.private / name)
            faults.append(result)
            verdict = "ok" if result.passed else f"BROKEN: {result.problems}"
            tell(f"{result.scenario}: {result.seconds:.1f} s, {verdict}")
    leaks = hunt([options.workdir], options.secrets)
    say(leaks.summary())
    for hit in leaks.hits[:20]:
        say(f"LEAK: {hit}")
    return MatrixRun(results, leaks, time.monotonic() - started, faults)


FAULTS_HEADING = """
## Fault classes

Each fault a user can meet ends clean (issue 19): the documented exit code, no Python
traceback in any output, no secret in any spelling in any output, log or ledger table
(PostgreSQL ledgers dumped and hunted too), and the rest of the run's work done. Every
command runs as a child process at DEBUG level where it matters; `bench/chaos_faults.py`
says what each scenario checks, and `tests/reliability/test_reliability_fault_classes.py`
runs each as a test.

"""


def _debug_log(path: Path) -> logging.Handler:
    """Every log record of this process, at DEBUG level, into `path` (hunted afterwards)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    return handler


def settings_text(options: Options) -> str:
    client = ", ".join(f"`{k}` {v}" for k, v in CLIENT_SETTINGS.items())
    limits = ", ".join(f"`{k}` {v}" for k, v in SANDBOX_LIMITS.items())
    return "\n".join(
        [
            f"- Write-back: {options.rows:,} rows per scenario from a DuckDB table (text ids, "
            "integer approval, TIMESTAMP sign-in time read as UTC), one row per registration, "
            "four groups of values per activity; batch size 100.",
            f"- Scenario 9 kills `target-jing sync` (a child process) {options.kills} times; "
            f"scenario 11 mixes in {options.unregistered:,} users with no registration.",
            f"- Sequences S1 to S9: {500 if options.short else 4000:,} registrations, approval "
            'wishes A ("1") and B ("2") alternating over at least three runs; S4\'s extract '
            "is built from the sandbox's listing in the shape tap-jing loads (UTC instants, "
            "JING's updated_time); drift is another client changing every 10th registration.",
            "- Faults: 10% HTTP 5xx; 20% throttled (half HTTP 429, half code 42900, "
            f"`Retry-After` 1 s); 2% malformed bodies; 5% answers delayed {SLOW_SECONDS} s "
            "against a 1 s read timeout; 2.5% connections dropped before and 2.5% after the "
            "call took effect; access tokens ended every 50 calls and the refresh token ended "
            "once, midway. Scenario 8 sets all of them at once.",
            f"- Client settings: {client}.",
            f"- Sandbox limits: {limits}; its fault draws are seeded (`--fault-seed`).",
            f"- Machine: {platform.machine()}, Python {platform.python_version()}.",
        ]
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--short", action="store_true", help="2,000 rows a scenario, fewer kills")
    parser.add_argument("--only", help="comma-separated scenario numbers, e.g. 1,9,E2")
    parser.add_argument("--workdir", type=Path, default=ROOT / "output" / "chaos")
    parser.add_argument("--report", type=Path, default=ROOT / "docs" / "RELIABILITY.md")
    parser.add_argument("--seed", type=int, default=6)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = _parser().parse_args(argv)
    shutil.rmtree(args.workdir, ignore_errors=True)
    options = (
        Options.short_matrix(args.workdir, args.seed)
        if args.short
        else Options(workdir=args.workdir, seed=args.seed)
    )
    only = {part.strip() for part in args.only.split(",")} if args.only else None

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    run = run_matrix(options, only, say)
    command = "python -m bench.chaos" + (" --short" if args.short else "")
    header = (
        f"{'Short' if args.short else 'Full'} matrix: {len(run.results)} scenarios in "
        f"{run.seconds / 60:.1f} minutes on a {os.cpu_count()}-core machine."
    )
    args.report.parent.mkdir(parents=True, exist_ok=True)
    report = markdown(
        run.results,
        header=header,
        settings=settings_text(options),
        leak_summary=run.leaks.summary(),
        command=command,
    )
    if run.faults:
        report += FAULTS_HEADING + faults_markdown(run.faults) + "\n"
    args.report.write_text(report)
    say(f"wrote {args.report}")
    return 0 if run.passed else 1


if __name__ == "__main__":
    sys.exit(main())
