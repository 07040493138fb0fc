"""Every knob of the sandbox: the `serve` flags, some of them changeable at run time."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_APP_ID = "100000000000000000000000001"
DEFAULT_APP_SECRET = "5a4d0b0e5e1f4c7c9d3b2a1f0e9d8c7b"
FAULT_KINDS = (
    "http_5xx",
    "code_50000",
    "slow",
    "drop",
    "drop_after",
    "malformed",
    "throttle",
    "permission",
)
# What POST /_sandbox/config may change while the server runs, with the type of each.
RUNTIME_KNOBS: dict[str, type] = {
    "rate_limit": float,
    "max_in_flight": int,
    "token_ttl": float,
    "refresh_ttl": float,
    "throttle_http_ratio": float,
    "retry_after": int,
    "expire_token_every": int,
    "latency_ms": float,
}


@dataclass
class SandboxSettings:
    """The sandbox's configuration; see `jing-sandbox serve --help` for each field."""

    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 42
    db: Path | None = None
    app_id: str = DEFAULT_APP_ID
    app_secret: str = field(default=DEFAULT_APP_SECRET, repr=False)
    activities: int = 50
    users: int = 5000
    registrations: int = 20000
    rate_limit: float = 20.0
    max_in_flight: int = 5
    token_ttl: float = 7200.0
    refresh_ttl: float = 30 * 86400.0
    throttle_http_ratio: float = 0.5
    retry_after: int = 1
    expire_token_every: int = 0
    fault_seed: int | None = None
    faults: dict[str, float] = field(default_factory=dict)
    slow_seconds: float = 2.0
    exit_on_eof: bool = False
    #: How the batch update answers (`jing_sandbox.answer_styles.ANSWER_STYLES`).
    answer_style: str = "echo"
    #: A fixed delay before every business answer, in milliseconds (not a fault).
    latency_ms: float = 0.0
