"""Records per second of tap-jing beside a plain `requests` loop over the same pages.

    .venv/bin/python bench/tap_throughput.py [--registrations 20000] [--rounds 3]
    .venv/bin/python bench/tap_throughput.py --latency-ms 100 [--budget 20]

One sandbox holds the data: at 0 ms with no practical rate limit, and with
`--latency-ms` answering every call that much later, its limit and the tap's
`requests_per_second` both set to the budget (the tap with its default
`max_concurrency`). There the goal is the share of the budget used: at least 0.9
for the tap, where a sequential loop gets about one call per latency. The tap runs in this process
with its Singer output going to /dev/null; the loop asks for the same pages in the
same order with one keep-alive `requests.Session` and writes one Singer RECORD line
per item to /dev/null, with no conversion. Each round runs both; the best round of
each is reported, with the HTTP calls each made, read from /_sandbox/stats, and the
median of the per-round ratios (the two run back to back, so they share the
machine's load). The goal: the tap at >= 0.8 of the loop's rate, with the same
number of calls. Prints figures; no pass/fail.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, NamedTuple, TextIO

import requests

from jing_sandbox.process import SandboxProcess
from tap_jing.tap import TapJing

PAGE_SIZE = 100
ACTIVITIES = "/v1/activity/list"
REGISTRATIONS = "/v1/activity/user/list"
USERS = "/v1/user/list"


def raw_loop(url: str, app_id: str, app_secret: str, out: TextIO) -> None:
    """Every activity, its registrations and every user, as RECORD lines on `out`."""
    session = requests.Session()
    answer = session.post(
        f"{url}/v1/oauth2/token", json={"app_id": app_id, "app_secret": app_secret}, timeout=30
    ).json()
    headers = {"app_id": app_id, "access_token": answer["data"]["access_token"]}

    def pages(path: str, body: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        page = 1
        while True:
            data = session.post(
                url + path,
                json={**body, "page": page, "page_size": PAGE_SIZE},
                headers=headers,
                timeout=30,
            ).json()["data"]
            yield data["list"]
            if len(data["list"]) < PAGE_SIZE or page * PAGE_SIZE >= data["total"]:
                return
            page += 1

    def write(stream: str, items: list[dict[str, Any]]) -> None:
        for item in items:
            line = {"type": "RECORD", "stream": stream, "record": item}
            out.write(json.dumps(line, separators=(",", ":")) + "\n")

    for activities in pages(ACTIVITIES, {}):
        write("activities", activities)
        for activity in activities:
            for registrations in pages(REGISTRATIONS, {"entity_uuid": activity["entity_uuid"]}):
                write("activity_users", registrations)
    for users in pages(USERS, {}):
        write("users", users)


def tap_run(config: dict[str, Any], out: TextIO) -> None:
    """A full tap-jing sync in this process, its Singer output sent to `out`."""
    with contextlib.redirect_stdout(out):
        TapJing(config=config, parse_env_config=False).sync_all()


class RecordCounter(io.RawIOBase):
    """Counts the RECORD lines written through it to `out`; both contenders write through one.

    It sits under a write-through text layer (`sink`), so each write is one whole line:
    the loop writes text, the tap's writer bytes (`sys.stdout.buffer`), as they do
    into a pipe.
    """

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.records = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if bytes(data[:16]) == b'{"type":"RECORD"':
            self.records += 1
        return self.out.write(data)


class Result(NamedTuple):
    """One run: wall seconds, CPU seconds of this process, records, HTTP calls."""

    seconds: float
    cpu_seconds: float
    records: int
    calls: int


def timed(sandbox: SandboxProcess, run: Callable[[TextIO], object]) -> Result:
    """One run with its output to /dev/null.

    CPU seconds are this process's only (the sandbox is another process): on a busy
    machine they vary less than wall time, and they are what the tap adds.
    """
    sandbox.reset()
    with open(os.devnull, "wb") as devnull:
        out = RecordCounter(devnull)
        sink = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
        started, cpu_started = time.perf_counter(), time.process_time()
        run(sink)
        sink.flush()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return Result(seconds, cpu, out.records, sum(sandbox.stats()["calls"].values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=20)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--registrations", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--budget", type=float, default=20.0, help="calls/s, with --latency-ms")
    args = parser.parse_args()
    rate = args.budget if args.latency_ms else 100000

    with SandboxProcess(
        activities=args.activities,
        users=args.users,
        registrations=args.registrations,
        rate_limit=rate,
        max_in_flight=1000,
        latency_ms=args.latency_ms,
    ) as sandbox:
        config = sandbox.config(requests_per_second=rate, page_size=PAGE_SIZE)
        counts = sandbox.counts()
        print(
            f"sandbox: {counts['activities']} activities, {counts['registrations']} "
            f"registrations, {counts['users']} users; page_size {PAGE_SIZE}; latency "
            f"{args.latency_ms:g} ms; limit {rate:g} calls/s"
        )
        contenders: dict[str, Callable[[TextIO], object]] = {
            "tap-jing": lambda out: tap_run(config, out),
            "requests loop": lambda out: raw_loop(
                sandbox.url, sandbox.app_id, sandbox.app_secret, out
            ),
        }
        best: dict[str, Result] = {}
        ratios: list[float] = []
        for round_ in range(1, args.rounds + 1):
            this_round: dict[str, Result] = {}
            for name, run in contenders.items():
                result = timed(sandbox, run)
                print(
                    f"round {round_} {name:>13}: {result.records} records in "
                    f"{result.seconds:.2f} s ({result.cpu_seconds:.2f} s CPU) = "
                    f"{result.records / result.seconds:,.0f} records/s, {result.calls} HTTP calls"
                )
                this_round[name] = result
                if name not in best or result.seconds < best[name].seconds:
                    best[name] = result
            ratios.append(this_round["requests loop"].seconds / this_round["tap-jing"].seconds)

    tap, loop = best["tap-jing"], best["requests loop"]
    if args.latency_ms:
        print_budget_use(best, args.budget)
        return
    print()
    print("| contender | records | best wall s | records/s | CPU s | records/CPU s | HTTP calls |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, result in best.items():
        print(
            f"| {name} | {result.records} | {result.seconds:.2f} | "
            f"{result.records / result.seconds:,.0f} | {result.cpu_seconds:.2f} | "
            f"{result.records / result.cpu_seconds:,.0f} | {result.calls} |"
        )
    print()
    print(
        f"ratio tap / loop, records/s, best rounds: {loop.seconds / tap.seconds:.2f} (goal >= 0.8)"
    )
    print(f"ratio tap / loop, records/s, median of rounds: {statistics.median(ratios):.2f}")
    print(f"ratio tap / loop, records per CPU second: {loop.cpu_seconds / tap.cpu_seconds:.2f}")
    print(
        f"HTTP calls equal: {tap.calls == loop.calls}; records equal: {tap.records == loop.records}"
    )


def print_budget_use(best: dict[str, Result], budget: float) -> None:
    """At a latency: the calls per second each contender made, as a share of the budget."""
    print()
    print("| contender | records | best wall s | HTTP calls | calls/s | share of budget |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, result in best.items():
        rate = result.calls / result.seconds
        print(
            f"| {name} | {result.records} | {result.seconds:.2f} | {result.calls} | "
            f"{rate:.1f} | {rate / budget:.2f} |"
        )
    tap = best["tap-jing"]
    print(
        f"\ntap-jing share of the {budget:g} calls/s budget: "
        f"{tap.calls / tap.seconds / budget:.2f} (goal >= 0.9)"
    )


if __name__ == "__main__":
    main()
