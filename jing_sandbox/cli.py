"""`jing-sandbox serve ...`: start the sandbox and run until stopped.

Stops cleanly on SIGTERM, SIGINT or (with --exit-on-eof) when stdin closes, so a
sandbox started by a test dies with its parent; the --db file is written on the way out.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from jing_sandbox.answer_styles import ANSWER_STYLES
from jing_sandbox.app import Sandbox
from jing_sandbox.server import SandboxServer
from jing_sandbox.settings import DEFAULT_APP_ID, DEFAULT_APP_SECRET, SandboxSettings
from jing_sandbox.store import DbFileError

NON_NEGATIVE = (
    "port",
    "activities",
    "users",
    "registrations",
    "rate_limit",
    "max_in_flight",
    "token_ttl",
    "refresh_ttl",
    "throttle_http_ratio",
    "retry_after",
    "expire_token_every",
    "fault_slow_seconds",
)
POLL_SECONDS = 0.05  # how soon a stop request is noticed
FAULT_FLAGS = {
    "http_5xx": "HTTP 500/502/503 with an HTML or empty body",
    "code_50000": "HTTP 200 with code 50000",
    "slow": "answers delayed by --fault-slow-seconds",
    "drop": "connections closed without an answer (nothing applied)",
    "drop_after": "calls applied, then the connection closed without an answer",
    "malformed": "calls applied, then answered with HTML, cut-off or empty bodies",
    "throttle": "forced throttling answers (HTTP 429 or code 42900)",
    "permission": "code 40300 answers",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jing-sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run a local JING Open API")
    d = SandboxSettings()
    serve.add_argument("--host", default=d.host)
    serve.add_argument("--port", type=int, default=d.port, help="0 picks a free port")
    serve.add_argument("--seed", type=int, default=d.seed, help="seed of the sample data")
    serve.add_argument("--db", type=Path, help="JSON file for the data (loaded if it exists)")
    serve.add_argument("--app-id", default=DEFAULT_APP_ID)
    serve.add_argument("--app-secret", default=DEFAULT_APP_SECRET)
    serve.add_argument("--activities", type=int, default=d.activities)
    serve.add_argument("--users", type=int, default=d.users)
    serve.add_argument("--registrations", type=int, default=d.registrations)
    serve.add_argument("--rate-limit", type=float, default=d.rate_limit, help="rps; 0 = none")
    serve.add_argument("--max-in-flight", type=int, default=d.max_in_flight, help="0 = none")
    serve.add_argument("--token-ttl", type=float, default=d.token_ttl, help="seconds")
    serve.add_argument("--refresh-ttl", type=float, default=d.refresh_ttl, help="seconds")
    serve.add_argument(
        "--throttle-http-ratio",
        type=float,
        default=d.throttle_http_ratio,
        help="share of throttling answers sent as HTTP 429 (the rest: HTTP 200, code 42900)",
    )
    serve.add_argument("--retry-after", type=int, default=d.retry_after, help="seconds")
    serve.add_argument(
        "--expire-token-every", type=int, default=0, help="end access tokens every N calls"
    )
    for kind, meaning in FAULT_FLAGS.items():
        flag = "--fault-" + kind.replace("_", "-")
        serve.add_argument(flag, type=float, default=0.0, metavar="R", help=f"rate of {meaning}")
    serve.add_argument("--fault-slow-seconds", type=float, default=d.slow_seconds)
    serve.add_argument("--fault-seed", type=int, help="seed of fault draws (default: --seed)")
    serve.add_argument(
        "--answer-style",
        choices=list(ANSWER_STYLES),
        default=d.answer_style,
        help="how the batch update answers: "
        + "; ".join(f"{k}: {v}" for k, v in ANSWER_STYLES.items()),
    )
    serve.add_argument(
        "--latency-ms",
        type=float,
        default=d.latency_ms,
        help="a fixed delay added to every API answer (not a fault; not counted as one)",
    )
    serve.add_argument("--exit-on-eof", action="store_true", help="stop when stdin closes")
    return parser


def settings_from(args: argparse.Namespace) -> SandboxSettings:
    faults = {kind: getattr(args, f"fault_{kind}") for kind in FAULT_FLAGS}
    return SandboxSettings(
        host=args.host,
        port=args.port,
        seed=args.seed,
        db=args.db,
        app_id=args.app_id,
        app_secret=args.app_secret,
        activities=args.activities,
        users=args.users,
        registrations=args.registrations,
        rate_limit=args.rate_limit,
        max_in_flight=args.max_in_flight,
        token_ttl=args.token_ttl,
        answer_style=args.answer_style,
        latency_ms=args.latency_ms,
        refresh_ttl=args.refresh_ttl,
        throttle_http_ratio=args.throttle_http_ratio,
        retry_after=args.retry_after,
        expire_token_every=args.expire_token_every,
        fault_seed=args.fault_seed,
        faults={kind: rate for kind, rate in faults.items() if rate > 0},
        slow_seconds=args.fault_slow_seconds,
        exit_on_eof=args.exit_on_eof,
    )


def serve(settings: SandboxSettings) -> None:
    """Run until SIGTERM/SIGINT or, with exit_on_eof, the end of stdin."""
    sandbox = Sandbox(settings)
    server = SandboxServer(sandbox)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if settings.exit_on_eof:
        threading.Thread(target=_wait_for_eof, args=(stop,), name="eof", daemon=True).start()
    sandbox.store.start_flusher()
    thread = threading.Thread(
        target=server.serve_forever, args=(POLL_SECONDS,), name="http", daemon=True
    )
    thread.start()
    print(f"listening on {server.url}", flush=True)
    while not stop.wait(POLL_SECONDS):
        pass
    server.shutdown()
    server.server_close()
    sandbox.store.close()


def _wait_for_eof(stop: threading.Event) -> None:
    while sys.stdin.buffer.read(4096):
        pass
    stop.set()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in NON_NEGATIVE:
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0")
    for name in ("throttle_http_ratio", *(f"fault_{kind}" for kind in FAULT_FLAGS)):
        if not 0 <= getattr(args, name) <= 1:
            parser.error(f"--{name.replace('_', '-')} is a rate: between 0 and 1")
    try:
        serve(settings_from(args))
    except DbFileError as exc:
        print(f"jing-sandbox: {exc}", file=sys.stderr)
        return 2
    return 0
