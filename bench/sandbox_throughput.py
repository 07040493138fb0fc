"""Calls per second the sandbox serves: activity list (page_size 10), 1/4/8 client threads.

    .venv/bin/python bench/sandbox_throughput.py [--seconds 5] [--threads 1,4,8]

Each thread has its own keep-alive `requests.Session` (what our client uses); a second
column repeats the run with bare `http.client` connections, whose lower client cost
shows more of the server's own speed. The sandbox runs without rate or in-flight
limits; on a small machine the client threads share the CPUs with it. Also prints how
long seeding takes. Prints figures; no pass/fail.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import requests

from jing_sandbox.data import generate
from jing_sandbox.process import SandboxProcess

PATH = "/v1/activity/list"
BODY = {"page": 1, "page_size": 10}


def _token(url: str, app_id: str, app_secret: str) -> str:
    answer = requests.post(
        f"{url}/v1/oauth2/token", json={"app_id": app_id, "app_secret": app_secret}, timeout=10
    )
    return answer.json()["data"]["access_token"]


def requests_caller(url: str, headers: dict[str, str]) -> Callable[[], bool]:
    """One keep-alive `requests.Session`; the call answers True when code is 0."""
    session = requests.Session()

    def call() -> bool:
        answer = session.post(url + PATH, json=BODY, headers=headers, timeout=10)
        return answer.status_code == 200 and answer.json()["code"] == 0

    return call


def http_client_caller(url: str, headers: dict[str, str]) -> Callable[[], bool]:
    """One bare keep-alive `http.client` connection."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    body = json.dumps(BODY)
    all_headers = {**headers, "Content-Type": "application/json"}

    def call() -> bool:
        connection.request("POST", PATH, body, all_headers)
        answer = connection.getresponse()
        return answer.status == 200 and json.loads(answer.read())["code"] == 0

    return call


def measure(
    sb: SandboxProcess,
    make_caller: Callable[[str, dict[str, str]], Callable[[], bool]],
    threads: int,
    seconds: float,
) -> tuple[float, int]:
    """(calls per second, calls that did not answer code 0) over `seconds` with `threads`."""
    headers = {"app_id": sb.app_id, "access_token": _token(sb.url, sb.app_id, sb.app_secret)}
    callers = [make_caller(sb.url, headers) for _ in range(threads)]
    deadline = time.perf_counter() + seconds
    done = [0] * threads
    failed = [0] * threads

    def run(i: int) -> None:
        while time.perf_counter() < deadline:
            done[i] += 1
            if not callers[i]():
                failed[i] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(done) / (time.perf_counter() - started), sum(failed)


def seeding_seconds(activities: int, users: int, registrations: int) -> float:
    started = time.perf_counter()
    generate(42, activities, users, registrations)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", default="1,4,8")
    args = parser.parse_args()
    flags = {"rate_limit": 0, "max_in_flight": 0}
    for sizes in ((50, 5000, 20000), (1000, 20000, 100000)):
        print(
            f"seeding {sizes[0]} activities, {sizes[1]} users, {sizes[2]} registrations: "
            f"{seeding_seconds(*sizes):.2f} s"
        )
    with SandboxProcess(**flags) as sb:
        print(f"sandbox {sb.url}, default data {sb.counts()}, POST {PATH} page_size 10")
        print("threads   requests.Session   http.client   (calls/s; failures)")
        for threads in (int(t) for t in args.threads.split(",")):
            rate, failed = measure(sb, requests_caller, threads, args.seconds)
            lean, lean_failed = measure(sb, http_client_caller, threads, args.seconds)
            print(f"{threads:>7} {rate:12.0f} ({failed}) {lean:11.0f} ({lean_failed})")


if __name__ == "__main__":
    main()
