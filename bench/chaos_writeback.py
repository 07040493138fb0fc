"""Write-back scenarios 1 to 11 of issue 6: target-jing under faults, kills and restarts.

Each scenario gets its own sandbox and ledger, a warehouse table of wanted rows
(one per registration), the faults it is about, and one or more runs. Then the
sandbox's registrations are compared with what was wanted, and the ledger is
read back to account for every input row.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import duckdb

from bench.chaos_ledger import Tally, tally
from bench.chaos_report import Result
from bench.chaos_sequences import false_outcomes
from bench.chaos_setup import (
    CLIENT_SETTINGS,
    SANDBOX_LIMITS,
    SLOW_SECONDS,
    Options,
    Watcher,
    elapsed,
    end_every_token,
    faults_seen,
    keep_secrets,
    update_calls_seen,
)
from bench.chaos_wanted import (
    SOURCE,
    TABLE,
    Key,
    Wanted,
    minimum_calls,
    registration_keys,
    statuses,
    wanted_rows,
    write_warehouse,
    wrong_final_state,
)
from jing_sandbox.process import SandboxProcess
from target_jing.engine import RunSummary, SyncRun
from target_jing.ledger import INTERRUPTED
from target_jing.send import NOT_REGISTERED
from target_jing.settings import TargetSettings

TARGET_JING = str(Path(sys.executable).with_name("target-jing"))
#: Each kind of fault at the rate the issue names.
FAULTS: dict[str, dict[str, float]] = {
    "5xx": {"http_5xx": 0.10},
    "throttle": {"throttle": 0.20},
    "malformed": {"malformed": 0.02},
    "slow": {"slow": 0.05, "slow_seconds": SLOW_SECONDS},
    "drop": {"drop": 0.025, "drop_after": 0.025},
}
#: Throttling in both forms (HTTP 429 and code 42900), each with `Retry-After`.
THROTTLE_CONFIG = {"throttle_http_ratio": 0.5, "retry_after": 1}
TOKEN_CONFIG = {"expire_token_every": 50}


@dataclass
class Scene:
    """One scenario being run: its sandbox, rows, ledger and what it has learnt so far."""

    options: Options
    name: str
    sandbox: SandboxProcess
    directory: Path
    rows: list[Wanted]
    before: dict[Key, dict[str, Any]]
    warehouse: Path
    minimum: int
    #: Rows the scenario makes fail on purpose: (run number, reason) -> expected keys.
    expected_failures: Callable[[int, str], bool] = lambda run, reason: False
    notes: list[str] = field(default_factory=list)
    #: The sandbox was restarted, and its call counters with it.
    restarted: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ledger(self) -> Path:
        return self.directory / "ledger.duckdb"

    def config(self) -> dict[str, Any]:
        return self.sandbox.config(ledger_path=str(self.ledger), **CLIENT_SETTINGS)

    def settings(self) -> TargetSettings:
        return TargetSettings.from_config(self.config())


# -- runs ---------------------------------------------------------------------------------


def sync_in_process(scene: Scene) -> RunSummary:
    """One run over the warehouse table, the way `target-jing sync --table` stages it."""
    with (
        duckdb.connect(str(scene.warehouse), read_only=True) as con,
        SyncRun(scene.settings()) as run,
    ):
        run.add_relation(con.sql(f"SELECT * FROM {TABLE}"), source=SOURCE)
        return run.finish()


def start_cli(scene: Scene, number: int) -> subprocess.Popen[bytes]:
    """`target-jing sync --duckdb W --table decisions` as a child, at DEBUG level; its output
    is kept in files (the leak hunt searches them)."""
    config = scene.options.config_file(f"{scene.directory.name}.json", scene.config())
    out = (scene.directory / f"run-{number}.stdout").open("wb")
    err = (scene.directory / f"run-{number}.stderr").open("wb")
    command = [TARGET_JING, "sync", "--config", str(config), "--duckdb", str(scene.warehouse)]
    with out, err:
        return subprocess.Popen(
            [*command, "--table", TABLE],
            stdout=out,
            stderr=err,
            cwd=scene.directory,
            env={**os.environ, "TARGET_JING_LOGLEVEL": "DEBUG"},
        )


# -- drivers: one per scenario shape ------------------------------------------------------


def one_run(scene: Scene) -> None:
    summary = sync_in_process(scene)
    if summary.status != "succeeded":
        scene.problems.append(f"the run ended {summary.status}: {summary.fatal_error}")


def with_refresh_expiry(scene: Scene) -> None:
    """Tokens end every 50 calls; once, midway, the refresh token ends as well."""
    expire = partial(end_every_token, scene.options, scene.sandbox)
    with Watcher(lambda: update_calls_seen(scene.sandbox), scene.minimum // 2, expire) as w:
        one_run(scene)
    _check_watcher(scene, w, "the refresh token was ended midway")


def with_sandbox_restart(scene: Scene) -> None:
    """The sandbox stops and starts again (same port, same --db) a third of the way in."""

    def restart() -> None:
        keep_secrets(scene.options, scene.sandbox)
        scene.restarted = True
        started = time.monotonic()
        scene.sandbox.restart()
        scene.notes.append(f"sandbox restarted in {elapsed(started):.1f} s mid-run")

    with Watcher(lambda: update_calls_seen(scene.sandbox), scene.minimum // 3, restart) as w:
        one_run(scene)
    _check_watcher(scene, w, "the sandbox was restarted")


def _check_watcher(scene: Scene, watcher: Watcher, what: str) -> None:
    if watcher.error:
        scene.problems.append(f"the fault could not be injected: {watcher.error}")
    elif not watcher.fired:
        scene.problems.append(f"the run ended before {what}")


def with_kills(scene: Scene) -> None:
    """SIGKILL `target-jing sync` at random moments, a new run after each, until one finishes."""
    rng = random.Random(scene.options.seed)
    moments = []
    for number in range(scene.options.kills + 3):
        kill = len(moments) < scene.options.kills
        remaining = _remaining_calls(scene) if kill else 0
        child = start_cli(scene, number)
        try:
            if kill:
                moment = _kill_at_random_moment(scene, child, number, rng, remaining)
                if moment is not None:
                    moments.append(moment)
                    continue
            code = child.wait(timeout=600)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        if code != 0:
            scene.problems.append(f"run {number} exited {code} (see run-{number}.stderr)")
        break
    else:
        scene.problems.append("no run finished after the kills")
    scene.notes.append("SIGKILL at " + ", ".join(moments))
    if len(moments) < scene.options.kills:
        scene.problems.append(f"only {len(moments)} of {scene.options.kills} kills landed")


def _remaining_calls(scene: Scene) -> int:
    """Calls still to make, estimated from the registrations not yet holding their values."""
    held = statuses(scene.sandbox.registrations())
    left = sum(
        1 for r in scene.rows if any(held[r.key].get(f) != v for f, v in r.api_fields().items())
    )
    return round(scene.minimum * left / len(scene.rows))


def _kill_at_random_moment(
    scene: Scene,
    child: subprocess.Popen[bytes],
    number: int,
    rng: random.Random,
    remaining_calls: int,
) -> str | None:
    """Kill just after staging (while it plans) or after a random number of update calls.

    Returns how the moment was chosen, or None when the run finished first.
    """
    if remaining_calls < 3 or rng.random() < 0.2:
        stderr = scene.directory / f"run-{number}.stderr"
        while child.poll() is None and b"progress: read" not in stderr.read_bytes():
            time.sleep(0.01)
        delay = rng.uniform(0.0, 0.3)
        time.sleep(delay)
        moment = f"{delay:.2f} s after its rows were staged"
    else:
        start_calls = update_calls_seen(scene.sandbox)
        target = rng.randint(1, remaining_calls - 2)
        while child.poll() is None and update_calls_seen(scene.sandbox) - start_calls < target:
            time.sleep(0.01)
        moment = f"update call {target} of ~{remaining_calls}"
    if child.poll() is not None:
        return None
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    return moment


def registered_then_rerun(scene: Scene, unregistered: list[Key]) -> None:
    """Run once (the unregistered users fail), register them, run again (they apply)."""
    first = sync_in_process(scene)
    if first.counts["failed"] != len(unregistered):
        scene.problems.append(
            f"run 0 failed {first.counts['failed']} rows, wanted {len(unregistered)}"
        )
    by_activity: dict[str, list[str]] = {}
    for activity, user in unregistered:
        by_activity.setdefault(activity, []).append(user)
    for activity, users in by_activity.items():
        scene.sandbox.register(activity, users)
    one_run(scene)


# -- the scenarios ------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteBack:
    """A write-back scenario: its faults, runtime knobs and driver."""

    name: str
    faults: dict[str, float] = field(default_factory=dict)
    config: dict[str, float] = field(default_factory=dict)
    driver: Callable[[Scene], None] = one_run
    db: bool = False


ALL_FAULTS = {k: v for rates in FAULTS.values() for k, v in rates.items()}

SCENARIOS: tuple[WriteBack, ...] = (
    WriteBack("1. clean"),
    WriteBack("2. 10% HTTP 5xx", FAULTS["5xx"]),
    WriteBack("3. 20% throttled (429 and 42900, Retry-After)", FAULTS["throttle"], THROTTLE_CONFIG),
    WriteBack(
        "4. token ends every 50 calls, refresh token once",
        config=TOKEN_CONFIG,
        driver=with_refresh_expiry,
    ),
    WriteBack("5. 2% malformed or cut-off JSON", FAULTS["malformed"]),
    WriteBack("6. 5% slow past the read timeout", FAULTS["slow"]),
    WriteBack("7. 5% dropped connections", FAULTS["drop"]),
    WriteBack(
        "8. all of 2 to 7 at once",
        ALL_FAULTS,
        {**THROTTLE_CONFIG, **TOKEN_CONFIG},
        driver=with_refresh_expiry,
    ),
    WriteBack("9. SIGKILL at random moments, new run after each", driver=with_kills),
    WriteBack("10. sandbox restarted mid-run (--db)", driver=with_sandbox_restart, db=True),
)
UNREGISTERED = "11. unregistered users, registered, re-run"


def run_writeback(options: Options, scenario: WriteBack) -> Result:
    with _scene(options, scenario.name, db=scenario.db) as scene:
        if scenario.faults:
            scene.sandbox.faults(**scenario.faults)
        if scenario.config:
            scene.sandbox.configure(**scenario.config)
        if scenario.driver is with_kills:
            scene.expected_failures = lambda run, reason: reason == INTERRUPTED
        return _finish(scene, scenario.driver)


def run_unregistered(options: Options) -> Result:
    """Scenario 11: `options.unregistered` users with no registration, mixed in."""
    with _scene(options, UNREGISTERED, unregistered=options.unregistered) as scene:
        registered = {key for key in scene.before}
        unregistered = [r.key for r in scene.rows if r.key not in registered]
        wanted = set(unregistered)
        scene.minimum += minimum_calls(r for r in scene.rows if r.key in wanted)
        scene.expected_failures = lambda run, reason: run == 0 and reason == NOT_REGISTERED
        result = _finish(scene, lambda s: registered_then_rerun(s, unregistered))
        failed_keys = tally(scene.ledger, SOURCE, len(scene.rows)).failed_keys
        failed = {(activity, user) for _, activity, user in failed_keys}
        if failed != wanted:
            result.problems.append(
                f"{len(failed - wanted)} rows failed that were registered, "
                f"{len(wanted - failed)} unregistered rows did not fail"
            )
        return result


@contextmanager
def _scene(
    options: Options, name: str, *, db: bool = False, unregistered: int = 0
) -> Iterator[Scene]:
    """Start the scenario's sandbox and write its warehouse; stop the sandbox at the end."""
    directory = options.scenario_dir(name.split(".")[0].zfill(2) + "-writeback")
    flags = {
        "activities": 10 if options.short else 50,
        "users": options.rows * 3 // 10,
        "registrations": options.rows * 11 // 10,
        "seed": options.seed,
        "fault_seed": options.seed,
        **SANDBOX_LIMITS,
    }
    if db:
        flags["db"] = directory / "sandbox-db.json"
    sandbox = SandboxProcess(**flags).start()
    try:
        registrations = sandbox.registrations()
        keys = registration_keys(registrations)[: options.rows - unregistered]
        keys = _mix_in_unregistered(keys, unregistered, options.seed)
        rows = wanted_rows(keys)
        yield Scene(
            options=options,
            name=name,
            sandbox=sandbox,
            directory=directory,
            rows=rows,
            before=statuses(registrations),
            warehouse=write_warehouse(directory / "warehouse.duckdb", rows),
            minimum=minimum_calls(rows),
        )
    finally:
        if sandbox.pid is not None:
            keep_secrets(options, sandbox)
        sandbox.stop()


def _mix_in_unregistered(keys: list[Key], count: int, seed: int) -> list[Key]:
    """`count` new users (valid ids, no registration) spread over the activities, shuffled in."""
    if not count:
        return keys
    activities = sorted({activity for activity, _ in keys})
    new = [(activities[i % len(activities)], f"chaosNotRegistered{i:06d}") for i in range(count)]
    mixed = keys + new
    random.Random(seed).shuffle(mixed)
    return mixed


def _finish(scene: Scene, driver: Callable[[Scene], None]) -> Result:
    """Drive the runs, then account for every row and compare the final state."""
    started = time.monotonic()
    try:
        driver(scene)
    except Exception as exc:  # a crash of the engine is a result, not the end of the matrix
        scene.problems.append(f"crashed: {type(exc).__name__}: {exc}")
    seconds = elapsed(started)
    scene.notes.append(faults_seen(scene.sandbox))
    api_calls = update_calls_seen(scene.sandbox)
    scene.sandbox.faults()
    keep_secrets(scene.options, scene.sandbox)
    wrong = wrong_final_state(scene.before, scene.rows, statuses(scene.sandbox.registrations()))
    if wrong:
        scene.notes.append("wrong, e.g. " + "; ".join(wrong[:3]))
    counted = tally(scene.ledger, SOURCE, len(scene.rows))
    false = false_outcomes(scene.ledger, _last_run(scene.ledger), scene.sandbox)
    problems = scene.problems + counted.problems + _unexpected(scene, counted)
    if counted.statuses and counted.statuses[-1] != "succeeded":
        problems.append(f"the last run ended {counted.statuses[-1]}")
    return Result(
        scenario=scene.name,
        rows_in=counted.rows_in,
        applied=counted.outcomes["applied"],
        unchanged=counted.outcomes["unchanged"],
        failed=counted.outcomes["failed"],
        rejected=counted.outcomes["rejected"],
        lost=counted.lost,
        wrong=len(wrong),
        false_outcomes=false,
        # The counters restarted with the sandbox: the ledger's count instead.
        update_calls=counted.update_calls if scene.restarted else api_calls,
        minimum_calls=scene.minimum,
        seconds=seconds,
        problems=problems,
        notes=[
            f"runs: {counted.runs}; update calls recorded in the ledger: {counted.update_calls}",
            *scene.notes,
        ],
    )


def _last_run(ledger: Path) -> str:
    with duckdb.connect(str(ledger), read_only=True) as con:
        rows = con.execute("SELECT max(run_id) FROM jing_sync_runs").fetchall()
    return str(rows[0][0])


def _unexpected(scene: Scene, counted: Tally) -> list[str]:
    return [
        f"{count} rows {outcome} in run {run}: {reason}"
        for (run, outcome, reason), count in counted.reasons.items()
        if outcome == "rejected" or not scene.expected_failures(run, reason)
    ]
