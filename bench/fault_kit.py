"""What every fault-class scenario (`bench.chaos_faults`) stands on: its commands run as
child processes with everything they print kept, what a scenario found, and the steps
several scenarios share (a warehouse of wishes, what the sandbox holds, the ledger's
pending rows).

A scenario's verdict is made here too (`run_fault`): the tracebacks in what its
commands printed, and the leak hunt over its folder for its secrets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from bench.leak_hunt import hunt
from jing_sandbox.process import SandboxProcess

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from pg_server import DATABASE, PASSWORD, PostgresServer  # the tests' server

BIN = Path(sys.executable).parent
#: The database of the tests' PostgreSQL server, where the scenarios' ledgers live.
PG_DATABASE = DATABASE
TRACEBACK = "Traceback (most recent call last)"
BATCH_PATH = "/v1/activity/update/userStatus/batch"
#: Small and quick: the class of fault matters here, not the volume.
SANDBOX = {"activities": 6, "users": 200, "registrations": 600, "rate_limit": 10_000}
#: Commands that hang are the fault: none may take longer than this (a million rows get
#: `BIG_COMMAND_TIMEOUT`, room for a slow, busy machine).
COMMAND_TIMEOUT = 120.0
BIG_COMMAND_TIMEOUT = 600.0


@dataclass
class Ran:
    """One command's end: its exit code and everything it printed."""

    code: int | None
    output: str
    seconds: float


@dataclass
class FaultKit:
    """A scenario's folder, its private config folder and the secrets to hunt for."""

    workdir: Path
    private: Path
    secrets: set[str] = field(default_factory=set)
    ran: list[Ran] = field(default_factory=list)

    def config(self, name: str, config: dict[str, Any]) -> Path:
        """Write a config (it holds secrets) outside the hunted folder."""
        self.private.mkdir(parents=True, exist_ok=True)
        path = self.private / name
        path.write_text(json.dumps(config))
        return path

    def command(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
        timeout: float = COMMAND_TIMEOUT,
    ) -> Ran:
        """Run `argv` (its first word a console script of this venv); keep what it printed."""
        return self.finish(self.start(name, argv, env, stdin=stdin), timeout)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        *,
        piped: bool = False,
        stdin: str | None = None,
    ) -> tuple[subprocess.Popen[str], Path]:
        """Start `argv` in the background, `stdin` written to it; `finish` waits for it and
        keeps what it printed (its stderr only when `piped`: the caller reads its stdout)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        out_path = self.workdir / f"{name}.out"
        with out_path.open("w", encoding="utf-8") as out:
            child = subprocess.Popen(
                [str(BIN / argv[0]), *argv[1:]],
                stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                stdout=subprocess.PIPE if piped else out,
                stderr=out if piped else subprocess.STDOUT,
                text=True,
                env={**os.environ, **(env or {})},
            )
        if child.stdin is not None:
            with suppress(BrokenPipeError):  # a child that stops reading early
                child.stdin.write(stdin or "")
                child.stdin.close()
        return child, out_path

    def finish(
        self, started: tuple[subprocess.Popen[str], Path], timeout: float = COMMAND_TIMEOUT
    ) -> Ran:
        """Wait for a started command (killed past `timeout`: its code is None)."""
        child, out_path = started
        begun = time.monotonic()
        try:
            code: int | None = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            code = None
        ran = Ran(code, out_path.read_text(encoding="utf-8"), time.monotonic() - begun)
        self.ran.append(ran)
        return ran

    def postgres(self) -> PostgresServer:
        """A PostgreSQL server of this scenario's own (its password is hunted for)."""
        # Not under pytest's folder: the `postgres` user cannot enter that one.
        server = PostgresServer.start(Path(tempfile.mkdtemp(prefix="jing-fault-pg-")))
        self.secrets.add(PASSWORD)
        return server

    def keep_secrets(self, sandbox: SandboxProcess) -> None:
        self.secrets.add(sandbox.app_secret)
        for values in sandbox.tokens().values():
            self.secrets.update(values)


@dataclass
class FaultResult:
    """What one fault scenario did; `problems` lists every rule it broke."""

    scenario: str
    expected: str
    exits: list[int | None] = field(default_factory=list)
    tracebacks: int = 0
    secret_hits: int = 0
    wrong: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems and not self.tracebacks and not self.secret_hits and not self.wrong


@dataclass(frozen=True)
class Fault:
    """A fault class: `run` does it and checks what only it can check (into `problems`)."""

    name: str
    expected: str
    run: Callable[[FaultKit, list[str]], int]
    #: A minute or more (a million rows): `make test` runs it, `make test-fast` does not.
    slow: bool = False


def run_fault(fault: Fault, workdir: Path, private: Path) -> FaultResult:
    """Run one scenario in `workdir`, then count tracebacks and hunt for its secrets."""
    kit = FaultKit(workdir=workdir, private=private)
    problems: list[str] = []
    started = time.monotonic()
    wrong = fault.run(kit, problems)
    leaks = hunt([workdir], kit.secrets)
    return FaultResult(
        scenario=fault.name,
        expected=fault.expected,
        exits=[r.code for r in kit.ran],
        tracebacks=sum(r.output.count(TRACEBACK) for r in kit.ran),
        secret_hits=len(leaks.hits),
        wrong=wrong,
        seconds=time.monotonic() - started,
        problems=problems,
    )


# -- shared steps ------------------------------------------------------------------------


DECISION_COLUMNS = ("activity_id", "user_id", "approve_status")


def decisions(sandbox: SandboxProcess, path: Path, status: str = "1") -> int:
    """A DuckDB warehouse with `decisions`: one approval wish per registration."""
    rows = [(r["target_entity_uuid"], r["omni_user_uuid"], status) for r in sandbox.registrations()]
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE OR REPLACE TABLE decisions "
            "(activity_id VARCHAR, user_id VARCHAR, approve_status VARCHAR)"
        )
        con.executemany("INSERT INTO decisions VALUES (?, ?, ?)", rows)
    return len(rows)


def expect_exit(problems: list[str], ran: Ran, wanted: int, what: str) -> None:
    if ran.code is None:
        problems.append(f"{what}: still running at its time limit (killed)")
    elif ran.code != wanted:
        problems.append(f"{what}: exit {ran.code}, not {wanted}")


def not_holding(sandbox: SandboxProcess, status: str, activities: set[str] | None = None) -> int:
    """Registrations (of `activities`, default all) whose approval is not `status`."""
    return sum(
        1
        for r in sandbox.registrations()
        if (activities is None or r["target_entity_uuid"] in activities)
        and r["ems_approvestatus"] != status
    )


def holdings(sandbox: SandboxProcess) -> dict[tuple[str, str], tuple[str, str]]:
    """What JING holds: (activity, user) -> (approval, sign-in)."""
    return {
        (r["target_entity_uuid"], r["omni_user_uuid"]): (
            r["ems_approvestatus"],
            r["ems_signinstatus"],
        )
        for r in sandbox.registrations()
    }


def changed(before: dict[Any, Any], after: dict[Any, Any]) -> int:
    return sum(1 for key, value in after.items() if before.get(key) != value)


def pending_rows(ledger: Path) -> dict[str, int]:
    with duckdb.connect(str(ledger), read_only=True) as con:
        return dict(
            con.execute("SELECT state, count(*) FROM jing_pending GROUP BY state").fetchall()
        )


def markdown(results: Sequence[FaultResult]) -> str:
    """The fault-class table of docs/RELIABILITY.md."""
    lines = [
        "| fault class | expected exit | exits | tracebacks | secret hits | wrong final state "
        "| seconds | verdict |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        exits = ", ".join("hung" if code is None else str(code) for code in r.exits)
        verdict = "ok" if r.passed else "BROKEN: " + "; ".join(r.problems)
        lines.append(
            f"| {r.scenario} | {r.expected} | {exits} | {r.tracebacks} | {r.secret_hits} "
            f"| {r.wrong} | {r.seconds:.1f} | {verdict} |"
        )
    return "\n".join(lines)
