"""Extract scenarios of issue 6: faults 2 to 8 while tap-jing extracts, and a kill and resume.

Every scenario has its own sandbox with the same seed, so all of them hold the
same data and nothing writes to it: a faulty run must emit exactly what the
clean run emitted, compared as a multiset of (stream, record). A run killed
midway and resumed from the last STATE message it had written must, with its
resumption, miss no record of the clean run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bench.chaos_report import Result
from bench.chaos_setup import (
    CLIENT_SETTINGS,
    SANDBOX_LIMITS,
    Options,
    Watcher,
    calls_seen,
    elapsed,
    end_every_token,
    faults_seen,
    keep_secrets,
)
from bench.chaos_writeback import ALL_FAULTS, FAULTS, THROTTLE_CONFIG, TOKEN_CONFIG
from jing_sandbox.process import SandboxProcess
from tap_jing.tap import TapJing

TAP_JING = str(Path(sys.executable).with_name("tap-jing"))
#: The client knobs the tap has settings for (it refuses unknown ones).
TAP_SETTINGS = {
    k: v for k, v in CLIENT_SETTINGS.items() if k in TapJing.config_jsonschema["properties"]
}
DEBUG_ENV = {"TAP_JING_LOGLEVEL": "DEBUG"}


@dataclass
class TapOutput:
    """One tap-jing process: its records as a multiset, its last STATE and exit code."""

    records: Counter[str] = field(default_factory=Counter)
    state: dict[str, Any] | None = None
    returncode: int | None = None
    seconds: float = 0.0


def read_messages(lines: list[str], output: TapOutput) -> TapOutput:
    """Count the RECORD messages and keep the last STATE; a line cut by a kill is skipped."""
    for line in lines:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("type") == "RECORD":
            output.records[json.dumps([message["stream"], message["record"]], sort_keys=True)] += 1
        elif message.get("type") == "STATE":
            output.state = message["value"]
    return output


def _command(
    options: Options, directory: Path, label: str, config: dict[str, Any], state: Any
) -> list[str]:
    config_file = options.config_file(f"{directory.name}-{label}.json", config)
    command = [TAP_JING, "--config", str(config_file)]
    if state is not None:
        state_file = directory / f"{label}.state.json"
        state_file.write_text(json.dumps(state))
        command += ["--state", str(state_file)]
    return command


def run_tap(
    options: Options, directory: Path, label: str, config: dict[str, Any], state: Any = None
) -> TapOutput:
    """`tap-jing --config ... [--state ...]` at DEBUG level; stdout and stderr kept in files."""
    out_path, err_path = directory / f"{label}.stdout", directory / f"{label}.stderr"
    started = time.monotonic()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        done = subprocess.run(
            _command(options, directory, label, config, state),
            stdout=out,
            stderr=err,
            env={**os.environ, **DEBUG_ENV},
            timeout=900,
            check=False,
        )
    output = read_messages(out_path.read_text().splitlines(), TapOutput())
    output.returncode = done.returncode
    output.seconds = elapsed(started)
    return output


def run_tap_killed(
    options: Options, directory: Path, label: str, config: dict[str, Any], kill_after: int
) -> TapOutput:
    """Run the tap and SIGKILL it after `kill_after` records have been read."""
    out_path = directory / f"{label}.stdout"
    started = time.monotonic()
    with (directory / f"{label}.stderr").open("wb") as err, out_path.open("w") as out:
        child = subprocess.Popen(
            _command(options, directory, label, config, None),
            stdout=subprocess.PIPE,
            stderr=err,
            env={**os.environ, **DEBUG_ENV},
            text=True,
        )
        assert child.stdout is not None
        records = 0
        for line in child.stdout:
            out.write(line)
            records += _is_record(line)
            if records >= kill_after:
                os.kill(child.pid, signal.SIGKILL)
                break
        child.wait()
        child.stdout.close()
    output = read_messages(out_path.read_text().splitlines(), TapOutput())
    output.returncode = child.returncode
    output.seconds = elapsed(started)
    return output


def _is_record(line: str) -> int:
    try:
        return int(json.loads(line).get("type") == "RECORD")
    except ValueError:
        return 0


# -- scenarios ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Extract:
    name: str
    faults: dict[str, float] = field(default_factory=dict)
    config: dict[str, float] = field(default_factory=dict)
    refresh_once: bool = False


EXTRACTS: tuple[Extract, ...] = (
    Extract("E2. extract, 10% HTTP 5xx", FAULTS["5xx"]),
    Extract("E3. extract, 20% throttled", FAULTS["throttle"], THROTTLE_CONFIG),
    Extract("E4. extract, token ends every 50 calls", config=TOKEN_CONFIG, refresh_once=True),
    Extract("E5. extract, 2% malformed JSON", FAULTS["malformed"]),
    Extract("E6. extract, 5% slow", FAULTS["slow"]),
    Extract("E7. extract, 5% dropped connections", FAULTS["drop"]),
    Extract(
        "E8. extract, all of 2 to 7",
        ALL_FAULTS,
        {**THROTTLE_CONFIG, **TOKEN_CONFIG},
        refresh_once=True,
    ),
)
CLEAN = "E1. extract, clean (the reference)"
RESUMED = "E9. extract killed, resumed from its last STATE"


@dataclass
class Reference:
    """The clean run every other extract is compared with."""

    records: Counter[str]
    calls: int
    result: Result


def tap_config(options: Options, sandbox: SandboxProcess) -> dict[str, Any]:
    """Pages of 25 in the short matrix, so that its small sandbox still sees every fault.

    The tap calls one page at a time and waits out each retry (it has no backoff
    settings, so the client's defaults apply): more calls cost minutes.
    """
    return sandbox.config(**TAP_SETTINGS, page_size=25 if options.short else 100)


@contextmanager
def _sandbox(options: Options, name: str) -> Iterator[tuple[SandboxProcess, Path]]:
    directory = options.scenario_dir(name.split(".")[0] + "-extract")
    small = {"activities": 5, "users": 300, "registrations": 1_000}
    full = {"activities": 20, "users": 3_000, "registrations": 8_000}
    sandbox = SandboxProcess(
        **(small if options.short else full),
        seed=options.seed,
        fault_seed=options.seed,
        **SANDBOX_LIMITS,
    ).start()
    try:
        yield sandbox, directory
    finally:
        keep_secrets(options, sandbox)
        sandbox.stop()


def run_reference(options: Options) -> Reference:
    with _sandbox(options, CLEAN) as (sandbox, directory):
        output = run_tap(options, directory, "clean", tap_config(options, sandbox))
        calls = calls_seen(sandbox)
    problems = [] if output.returncode == 0 else [f"tap-jing exited {output.returncode}"]
    if not output.records:
        problems.append("the clean run emitted no record")
    result = Result(
        scenario=CLEAN,
        rows_in=sum(output.records.values()),
        seconds=output.seconds,
        problems=problems,
        notes=[f"{calls} API calls"],
    )
    return Reference(output.records, calls, result)


def run_extract(options: Options, reference: Reference, scenario: Extract) -> Result:
    with _sandbox(options, scenario.name) as (sandbox, directory):
        if scenario.faults:
            sandbox.faults(**scenario.faults)
        if scenario.config:
            sandbox.configure(**scenario.config)
        threshold = reference.calls // 2 if scenario.refresh_once else 10**12
        expire = partial(end_every_token, options, sandbox)
        with Watcher(lambda: calls_seen(sandbox), threshold, expire) as watcher:
            output = run_tap(options, directory, "faulty", tap_config(options, sandbox))
        injected = faults_seen(sandbox)
    problems = [] if output.returncode == 0 else [f"tap-jing exited {output.returncode}"]
    if scenario.refresh_once and not watcher.fired:
        problems.append(f"the refresh token was not ended midway ({watcher.error})")
    return Result(
        scenario=scenario.name,
        rows_in=sum(reference.records.values()),
        lost=sum((reference.records - output.records).values()),
        wrong=sum((output.records - reference.records).values()),
        seconds=output.seconds,
        problems=problems,
        notes=[injected],
    )


def run_resumed(options: Options, reference: Reference) -> Result:
    """Kill the tap at a random record, resume from the last STATE it wrote: nothing missed."""
    total = sum(reference.records.values())
    kill_after = random.Random(options.seed).randint(total // 5, total * 4 // 5)
    with _sandbox(options, RESUMED) as (sandbox, directory):
        config = tap_config(options, sandbox)
        killed = run_tap_killed(options, directory, "killed", config, kill_after)
        resumed = run_tap(options, directory, "resumed", config, state=killed.state)
    problems = []
    if killed.returncode != -signal.SIGKILL:
        problems.append(f"the first run was not killed (exit {killed.returncode})")
    if resumed.returncode != 0:
        problems.append(f"the resumed run exited {resumed.returncode}")
    union = killed.records + resumed.records
    return Result(
        scenario=RESUMED,
        rows_in=total,
        lost=sum((reference.records - union).values()),
        wrong=len(set(union) - set(reference.records)),
        seconds=killed.seconds + resumed.seconds,
        problems=problems,
        notes=[
            f"killed after {kill_after} of {total} records "
            f"(STATE {'found' if killed.state else 'none yet'}); the resumed run emitted "
            f"{sum(resumed.records.values())}, "
            f"{sum((union - reference.records).values())} of them again"
        ],
    )
