"""Calls per second the sandbox serves: activity list (page_size 10), 1/4/8 client threads.

    .venv/bin/python bench/sandbox_throughput.py [--seconds 5] [--threads 1,4,8]

Each thread has its own keep-alive `requests.Session`. The sandbox runs with limits
far above what the clients can reach, so the figure is the server's own speed (on a
small machine the client threads share the CPU with it). Prints figures; no pass/fail.
"""

from __future__ import annotations

import argparse
import threading
import time

import requests

from jing_sandbox.process import SandboxProcess

PATH = "/v1/activity/list"


def _token(url: str, app_id: str, app_secret: str) -> str:
    answer = requests.post(
        f"{url}/v1/oauth2/token", json={"app_id": app_id, "app_secret": app_secret}, timeout=10
    )
    return answer.json()["data"]["access_token"]


def measure(sb: SandboxProcess, threads: int, seconds: float) -> tuple[float, int]:
    """(calls per second, calls that did not answer code 0) over `seconds` with `threads`."""
    headers = {"app_id": sb.app_id, "access_token": _token(sb.url, sb.app_id, sb.app_secret)}
    deadline = time.perf_counter() + seconds
    done = [0] * threads
    failed = [0] * threads

    def run(i: int) -> None:
        with requests.Session() as session:
            while time.perf_counter() < deadline:
                answer = session.post(
                    sb.url + PATH, json={"page": 1, "page_size": 10}, headers=headers, timeout=10
                )
                done[i] += 1
                if answer.status_code != 200 or answer.json()["code"] != 0:
                    failed[i] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(done) / (time.perf_counter() - started), sum(failed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", default="1,4,8")
    args = parser.parse_args()
    flags = {"rate_limit": 0, "max_in_flight": 0}
    with SandboxProcess(**flags) as sb:
        print(f"sandbox {sb.url}, default data {sb.counts()}, POST {PATH} page_size 10")
        for threads in (int(t) for t in args.threads.split(",")):
            rate, failed = measure(sb, threads, args.seconds)
            print(f"{threads:>2} client threads: {rate:8.0f} calls/s  ({failed} not code 0)")


if __name__ == "__main__":
    main()
