"""Helpers for the client tests: settings for a sandbox, and reading its counters."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from jing_client import ClientSettings
from jing_sandbox.process import SandboxProcess

# Backoff in hundredths of a second and no practical client-side rate limit, unless a
# test asks otherwise: the behaviour is the same, the suite stays fast.
FAST = {
    "backoff_base_seconds": 0.01,
    "backoff_max_seconds": 0.05,
    "max_attempts": 4,
    "max_retry_seconds": 10.0,
    "requests_per_second": 1000.0,
    "connect_timeout": 2.0,
    "read_timeout": 5.0,
}


def settings_for(sandbox: SandboxProcess, **overrides: Any) -> ClientSettings:
    """Client settings for `sandbox`, with the fast defaults above."""
    return ClientSettings.from_config(sandbox.config(**{**FAST, **overrides}))


def path_calls(sandbox: SandboxProcess, path: str) -> int:
    """How many calls the sandbox has seen on `path`."""
    return int(sandbox.stats()["calls"].get(path, 0))


def answers(sandbox: SandboxProcess, code: int | str) -> int:
    """How many answers the sandbox gave with `code` (or a kind such as "http_500")."""
    return int(sandbox.stats()["answers"].get(str(code), 0))


def run_in_threads(n: int, work: Callable[[], None]) -> list[BaseException]:
    """Run `work` in `n` threads that start together; return what they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run() -> None:
        barrier.wait()
        try:
            work()
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


#: Straight to the target, whatever proxy the environment names.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def relay_post(handler: BaseHTTPRequestHandler, url: str) -> None:
    """Pass the POST `handler` received on to `url` as it came, and its answer back.

    The test servers that stand between a client and the sandbox (a forward proxy, a
    TLS front) relay this way; an HTTP error status is relayed like any other.
    """
    body = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
    headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "connection")}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _DIRECT.open(request, timeout=10) as answer:
            status, content = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, content = error.code, error.read()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(content)))
    handler.end_headers()
    handler.wfile.write(content)
