"""Run sequences: wishes that change from run to run, under the faults that break promises.

Each sequence makes at least three runs against its own sandbox and ledger. After
every run it counts the *false outcomes*: rows that run logged `applied` or
`unchanged` whose values JING (the sandbox) did not hold right after it. After the
last run it counts the *wrong final state*: registrations that do not hold the
latest wish (or, with no valid wish, their values from before). Every run's exit
code must be the documented one. All three must come out right for the sequence
to pass.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from bench.chaos_report import Result
from bench.chaos_setup import SANDBOX_LIMITS, Options, elapsed, keep_secrets, update_calls_seen
from jing_client import ClientSettings, JingClient
from jing_sandbox.answer_styles import ANSWER_STYLES
from jing_sandbox.process import SandboxProcess
from jing_singer import exit_codes
from target_jing.dataframe import sync_dataframe

TARGET_JING = str(Path(sys.executable).with_name("target-jing"))
Key = tuple[str, str]
#: What the sequences' client does: quick, and one attempt where a lost answer must stay lost.
CLIENT = {
    "requests_per_second": 200,
    "max_concurrency": 5,
    "read_timeout": 2.0,
    "backoff_base_seconds": 0.02,
    "backoff_max_seconds": 0.2,
    "progress_interval_seconds": 3600,
}
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class Sequence:
    """One sequence being run: its sandbox(es), ledger, wishes and what it found."""

    options: Options
    name: str
    sandbox: SandboxProcess
    directory: Path
    keys: list[Key]
    before: dict[Key, str]
    #: The latest valid wish per registration (approval status), as the runs went.
    latest: dict[Key, str] = field(default_factory=dict)
    runs: int = 0
    rows_in: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    false: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ledger(self) -> Path:
        return self.directory / "ledger.duckdb"

    def config(self, sandbox: SandboxProcess | None = None, **more: Any) -> dict[str, Any]:
        return (sandbox or self.sandbox).config(ledger_path=str(self.ledger), **CLIENT, **more)

    def rows(
        self, value: str | Callable[[int], str], keys: list[Key] | None = None
    ) -> pd.DataFrame:
        chosen = keys if keys is not None else self.keys
        pick = value if callable(value) else (lambda _i: value)
        return pd.DataFrame(
            [
                {"activity_id": a, "user_id": u, "approve_status": pick(i)}
                for i, (a, u) in enumerate(chosen)
            ]
        )

    def run(
        self,
        frame: pd.DataFrame,
        expected_exit: int | set[int],
        sandbox: SandboxProcess | None = None,
        wishes: bool = True,
        **more: Any,
    ) -> dict[str, Any]:
        """One in-process run; its rows become the latest wishes (`wishes`); outcomes checked."""
        target = sandbox or self.sandbox
        summary = sync_dataframe(frame, self.config(target, **more))
        self._account(summary, expected_exit, target)
        if wishes:
            self._wish(frame)
        return summary

    def _wish(self, frame: pd.DataFrame) -> None:
        for row in frame.itertuples(index=False):
            self.latest[(row.activity_id, row.user_id)] = str(row.approve_status)

    def _account(
        self, summary: dict[str, Any], expected_exit: int | set[int], target: SandboxProcess
    ) -> None:
        self.runs += 1
        self.rows_in += summary["rows_in"]
        for name, count in summary["counts"].items():
            self.outcomes[name] = self.outcomes.get(name, 0) + count
        allowed = expected_exit if isinstance(expected_exit, set) else {expected_exit}
        if summary["exit_code"] not in allowed:
            self.problems.append(
                f"run {self.runs} exited {summary['exit_code']}, documented: {sorted(allowed)}"
            )
        if summary["rows_in"] != sum(summary["counts"].values()):
            self.problems.append(f"run {self.runs}: rows without an outcome")
        self.false += false_outcomes(self.ledger, summary["run_id"], target)

    def held(self, sandbox: SandboxProcess | None = None) -> dict[Key, str]:
        return approvals(sandbox or self.sandbox)


def approvals(sandbox: SandboxProcess) -> dict[Key, str]:
    return {
        (r["target_entity_uuid"], r["omni_user_uuid"]): r["ems_approvestatus"]
        for r in sandbox.registrations()
    }


def false_outcomes(ledger: Path, run_id: str, sandbox: SandboxProcess) -> int:
    """Rows of `run_id` logged applied or unchanged whose approval JING does not hold now."""
    with duckdb.connect(str(ledger), read_only=True) as con:
        claimed = con.execute(
            "SELECT entity_uuid, omni_user_uuid, ems_approvestatus FROM jing_sync_log "
            "WHERE run_id = ? AND outcome IN ('applied', 'unchanged') "
            "AND ems_approvestatus IS NOT NULL",
            [run_id],
        ).fetchall()
    held = approvals(sandbox)
    return sum(1 for activity, user, value in claimed if held.get((activity, user)) != value)


def wrong_state(sequence: Sequence, sandbox: SandboxProcess | None = None) -> int:
    """Registrations not holding the latest wish (or, without a valid one, their old value)."""
    held = sequence.held(sandbox)
    expected = {**sequence.before, **sequence.latest}
    return sum(1 for key, value in expected.items() if held.get(key) != value)


# -- the sequences ------------------------------------------------------------------------


def alternate_dropped_answers(seq: Sequence) -> None:
    """A -> B -> A; during B, 30% of the answers are lost after the change took effect."""
    seq.run(seq.rows("1"), exit_codes.OK)
    seq.sandbox.faults(path="/v1/activity/update/userStatus/batch", drop_after=0.3)
    seq.run(seq.rows("2"), {exit_codes.ROWS_FAILED, exit_codes.OK}, max_attempts=1)
    seq.sandbox.faults()
    seq.run(seq.rows("1"), exit_codes.OK)


def alternate_killed_in_flight(seq: Sequence) -> None:
    """A -> B (`target-jing sync` SIGKILLed while calls are in flight) -> A."""
    seq.run(seq.rows("1"), exit_codes.OK)
    warehouse = seq.directory / "b.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        frame = seq.rows("2")
        con.register("frame", frame)
        con.execute("CREATE TABLE wanted AS SELECT * FROM frame")
    seq.sandbox.faults(path="/v1/activity/update/userStatus/batch", slow=1.0, slow_seconds=0.3)
    config = seq.options.config_file(f"{seq.directory.name}.json", seq.config())
    err = (seq.directory / "killed.stderr").open("wb")
    start = update_calls_seen(seq.sandbox)
    with err:
        child = subprocess.Popen(
            [
                TARGET_JING,
                "sync",
                "--config",
                str(config),
                "--duckdb",
                str(warehouse),
                "--table",
                "wanted",
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=seq.directory,
        )
        deadline = time.monotonic() + 60
        while update_calls_seen(seq.sandbox) - start < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    seq.sandbox.faults()
    seq.runs += 1
    seq.notes.append(f"run 2 killed after {update_calls_seen(seq.sandbox) - start} update calls")
    seq.run(seq.rows("1"), exit_codes.OK)


def two_destinations(seq: Sequence) -> None:
    """One ledger: A on sandbox 1, A on sandbox 2 (must be sent), B on sandbox 1."""
    other = _extra_sandbox(seq, app_id="2" * 27)
    try:
        seq.run(seq.rows("1"), exit_codes.OK)
        first = seq.latest.copy()
        seq.latest = {}
        summary = seq.run(seq.rows("1"), exit_codes.OK, sandbox=other)
        if summary["counts"]["applied"] != len(seq.keys):
            seq.problems.append("the second destination did not receive every row")
        held_other = approvals(other)
        wrong_other = sum(1 for k, v in seq.latest.items() if held_other.get(k) != v)
        seq.latest = first
        seq.run(seq.rows("2"), exit_codes.OK)
        if wrong_other:
            seq.problems.append(f"{wrong_other} registrations wrong on the second destination")
    finally:
        keep_secrets(seq.options, other)
        other.stop()


def drift(seq: Sequence, *, observed: bool) -> None:
    """A, then another client changes 10% in JING; A again; changes again; B for all."""
    warehouse = seq.directory / "warehouse.duckdb"
    knobs: dict[str, Any] = (
        {"observed_state": "raw.activity_users", "observed_state_path": str(warehouse)}
        if observed
        else {"read_back": True}
    )
    extract(seq.sandbox, warehouse)
    seq.run(seq.rows("1"), exit_codes.OK, **knobs)
    for final in ("1", "2"):
        changed = change_in_jing(seq.sandbox, seq.keys[::10], seq.latest)
        extract(seq.sandbox, warehouse)
        summary = seq.run(seq.rows(final), exit_codes.OK, **knobs)
        if final == "1" and summary["counts"]["applied"] != changed:
            seq.problems.append(
                f"{changed} registrations drifted, {summary['counts']['applied']} were sent again"
            )


def answer_style(seq: Sequence, style: str) -> None:
    """A -> B -> A against a sandbox that answers in `style`."""
    unreadable = style in ("data_null", "data_missing", "non_json")
    knobs: dict[str, Any] = {"read_back": True, "max_attempts": 1} if unreadable else {}
    for value in ("1", "2", "1"):
        seq.run(seq.rows(value), exit_codes.OK, **knobs)


def superseded_by_rejected(seq: Sequence) -> None:
    """Wishes for not-yet-registered users wait; newer rows for them are rejected; they stay."""
    late = _late_users(seq, 30)
    frame = pd.concat([seq.rows("1"), seq.rows("2", late)], ignore_index=True)
    seq.run(frame, exit_codes.ROWS_FAILED, wishes=False)
    seq._wish(seq.rows("1"))
    _register(seq.sandbox, late)
    seq.before.update({key: "0" for key in late})
    frame = pd.concat([seq.rows("2"), seq.rows("9", late)], ignore_index=True)
    summary = seq.run(frame, exit_codes.ROWS_FAILED, wishes=False)
    seq._wish(seq.rows("2"))
    if summary["counts"].get("superseded") != len(late):
        seq.problems.append(f"{summary['counts'].get('superseded')} superseded, not {len(late)}")
    seq.run(seq.rows("1"), exit_codes.OK)


def singer_without_records(seq: Sequence) -> None:
    """A failed run (users not registered yet); then Singer runs with SCHEMA and STATE only."""
    late = _late_users(seq, 40)
    seq.run(
        pd.concat([seq.rows("1"), seq.rows("2", late)], ignore_index=True), exit_codes.ROWS_FAILED
    )
    _register(seq.sandbox, late)
    for _ in range(2):
        seq._account(
            _singer_run(seq, seq.options.config_file("s.json", seq.config())),
            exit_codes.OK,
            seq.sandbox,
        )


def given_up_then_dropped(seq: Sequence) -> None:
    """Users who never register: given up after 2 attempts, then dropped with the command."""
    ghosts = _late_users(seq, 25)
    limits = {"pending_max_attempts": 2}
    seq.run(
        pd.concat([seq.rows("1"), seq.rows("2", ghosts)], ignore_index=True),
        exit_codes.ROWS_FAILED,
        wishes=False,
        **limits,
    )
    seq._wish(seq.rows("1"))
    seq.run(seq.rows("2"), exit_codes.OK, **limits)
    config = seq.options.config_file("p.json", seq.config(**limits))
    dropped = subprocess.run(
        [TARGET_JING, "pending", "drop", "--config", str(config), "--state", "given_up"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if f"{len(ghosts)} pending rows dropped" not in dropped.stdout:
        seq.problems.append(f"pending drop said: {dropped.stdout.strip()} {dropped.stderr[-300:]}")
    calls = update_calls_seen(seq.sandbox)
    summary = seq.run(seq.rows("1"), exit_codes.OK, **limits)
    if summary["retried"]:
        seq.problems.append(f"{summary['retried']} dropped rows were retried")
    seq.notes.append(f"last run: {update_calls_seen(seq.sandbox) - calls} update calls")


# -- helpers ------------------------------------------------------------------------------


def extract(sandbox: SandboxProcess, warehouse: Path) -> None:
    """raw.activity_users in the shape tap-jing loads it: UTC instants, JING's updated_time.

    Read from the sandbox's admin listing, which holds what the API lists: the same
    values a fresh `meltano run tap-jing target-warehouse` would load.
    """

    def utc(text: str | None) -> str | None:
        if not text:
            return None
        return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC).isoformat()

    frame = pd.DataFrame(
        [
            {
                "target_entity_uuid": r["target_entity_uuid"],
                "omni_user_uuid": r["omni_user_uuid"],
                "ems_approvestatus": r["ems_approvestatus"],
                "ems_signinstatus": r["ems_signinstatus"],
                "ems_approvetimestamp": utc(r.get("ems_approvetimestamp")),
                "ems_signintimestamp": utc(r.get("ems_signintimestamp")),
                "updated_time": utc(r["updated_time"]),
            }
            for r in sandbox.registrations()
        ]
    )
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        con.register("frame", frame)
        con.execute(
            "CREATE OR REPLACE TABLE raw.activity_users AS SELECT * EXCLUDE (updated_time), "
            "CAST(updated_time AS TIMESTAMPTZ) AS updated_time FROM frame"
        )


def change_in_jing(sandbox: SandboxProcess, keys: list[Key], wished: dict[Key, str]) -> int:
    """Another client sets other approval values on `keys` (one call per registration)."""
    config = sandbox.config(requests_per_second=250, max_concurrency=5)
    with JingClient(ClientSettings.from_config(config)) as client:
        for activity, user in keys:
            other = "0" if wished.get((activity, user)) != "0" else "1"
            client.update_user_status(activity, [user], {"ems_approvestatus": other})
    return len(keys)


def _late_users(seq: Sequence, count: int) -> list[Key]:
    activities = sorted({a for a, _ in seq.keys})
    return [(activities[i % len(activities)], f"chaosLate{i:05d}") for i in range(count)]


def _register(sandbox: SandboxProcess, keys: list[Key]) -> None:
    by_activity: dict[str, list[str]] = {}
    for activity, user in keys:
        by_activity.setdefault(activity, []).append(user)
    for activity, users in by_activity.items():
        sandbox.register(activity, users)


def _singer_run(seq: Sequence, config: Path) -> dict[str, Any]:
    """`target-jing --config C` with a SCHEMA and a STATE message only; its JSON summary."""
    schema = {
        "type": "object",
        "properties": {
            "activity_id": {"type": "string"},
            "user_id": {"type": "string"},
            "approve_status": {"type": "string"},
        },
    }
    messages = [
        {"type": "SCHEMA", "stream": "statuses", "schema": schema, "key_properties": []},
        {"type": "STATE", "value": {"bookmarks": {}}},
    ]
    done = subprocess.run(
        [TARGET_JING, "--config", str(config)],
        input="".join(json.dumps(m) + "\n" for m in messages),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=seq.directory,
    )
    (seq.directory / f"singer-{seq.runs}.stderr").write_text(done.stderr)
    return json.loads(done.stderr.strip().splitlines()[-1])


def _extra_sandbox(seq: Sequence, **flags: Any) -> SandboxProcess:
    return SandboxProcess(**{**_sandbox_flags(seq.options), **flags}).start()


def _sandbox_flags(options: Options) -> dict[str, Any]:
    return {
        "activities": 6 if options.short else 20,
        "users": 400 if options.short else 2_000,
        "registrations": 600 if options.short else 5_000,
        "seed": options.seed,
        "fault_seed": options.seed,
        **SANDBOX_LIMITS,
    }


@dataclass(frozen=True)
class RunSequence:
    name: str
    driver: Callable[[Sequence], None]
    flags: dict[str, Any] = field(default_factory=dict)


SEQUENCES: tuple[RunSequence, ...] = (
    RunSequence("S1. A -> B -> A, answers lost after the change", alternate_dropped_answers),
    RunSequence("S2. A -> B -> A, SIGKILL with calls in flight", alternate_killed_in_flight),
    RunSequence("S3. one ledger, two sandboxes", two_destinations),
    RunSequence(
        "S4. drift 10%, observed_state from a fresh extract", lambda s: drift(s, observed=True)
    ),
    RunSequence("S5. drift 10%, read_back", lambda s: drift(s, observed=False)),
    *(
        RunSequence(
            f"S6{chr(ord('a') + i)}. --answer-style {style}",
            lambda s, style=style: answer_style(s, style),
            {"answer_style": style},
        )
        for i, style in enumerate(s for s in ANSWER_STYLES if s != "echo")
    ),
    RunSequence("S7. pending wish superseded by a rejected newer row", superseded_by_rejected),
    RunSequence("S8. Singer run without records after a failed run", singer_without_records),
    RunSequence("S9. never registered: given up, then dropped", given_up_then_dropped),
)


@contextmanager
def _sequence(options: Options, spec: RunSequence) -> Iterator[Sequence]:
    directory = options.scenario_dir(spec.name.split(".")[0] + "-sequence")
    sandbox = SandboxProcess(**{**_sandbox_flags(options), **spec.flags}).start()
    try:
        before = approvals(sandbox)
        keys = sorted(before)[: 500 if options.short else 4_000]
        yield Sequence(options, spec.name, sandbox, directory, keys, before)
    finally:
        keep_secrets(options, sandbox)
        sandbox.stop()


def run_sequence(options: Options, spec: RunSequence) -> Result:
    """Run one sequence and judge it: wrong final state, false outcomes, exit codes."""
    with _sequence(options, spec) as seq:
        started = time.monotonic()
        try:
            spec.driver(seq)
        except Exception as exc:  # a crash is a result, not the end of the matrix
            seq.problems.append(f"crashed: {type(exc).__name__}: {exc}")
        seq.sandbox.faults()
        wrong = wrong_state(seq)
        if seq.runs < 3:
            seq.problems.append(f"only {seq.runs} runs")
        if seq.false:
            seq.problems.append(f"{seq.false} false outcomes")
        return Result(
            scenario=spec.name,
            rows_in=seq.rows_in,
            applied=seq.outcomes.get("applied", 0),
            unchanged=seq.outcomes.get("unchanged", 0),
            failed=seq.outcomes.get("failed", 0),
            rejected=seq.outcomes.get("rejected", 0),
            wrong=wrong,
            false_outcomes=seq.false,
            update_calls=update_calls_seen(seq.sandbox),
            seconds=elapsed(started),
            problems=seq.problems,
            notes=[f"{seq.runs} runs", *seq.notes],
        )
