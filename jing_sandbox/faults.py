"""Injected faults: which ones a business call suffers, drawn from a seeded generator.

Rates are set per path, or for every path with "*" (a path's own rate for a kind
wins over "*"). The kinds decided before the call takes effect (nothing applied):
throttle, drop, http_5xx, code_50000, permission. The kinds that let the call take
effect and then spoil its answer, modelling a lost or garbled reply: malformed and
drop_after. `slow` only delays the answer and combines with the others.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from jing_sandbox.settings import FAULT_KINDS

BEFORE = ("throttle", "drop", "http_5xx", "code_50000", "permission")
AFTER = ("malformed", "drop_after")
T = TypeVar("T")


@dataclass(frozen=True)
class Decision:
    """The faults one call gets: at most one before, one after, and a delay."""

    before: str | None = None
    after: str | None = None
    slow_seconds: float = 0.0


class FaultError(ValueError):
    """A bad POST /_sandbox/faults body; the message names the field."""


class Faults:
    """The fault table and the seeded random source for every random choice of the server."""

    def __init__(self, seed: int, default_slow_seconds: float) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._default_slow = default_slow_seconds
        self._table: dict[str, dict[str, float]] = {}

    def set(self, body: dict[str, Any]) -> dict[str, dict[str, float]]:
        """Apply a POST /_sandbox/faults body: `{}` clears all, else sets one path's rates."""
        if not body:
            with self._lock:
                self._table.clear()
            return self.table()
        path = body.get("path", "*")
        if not isinstance(path, str) or not (path == "*" or path.startswith("/")):
            raise FaultError("'path' must be \"*\" or a path starting with '/'")
        rates: dict[str, float] = {}
        for key, value in body.items():
            if key == "path":
                continue
            if key not in (*FAULT_KINDS, "slow_seconds"):
                raise FaultError(f"unknown fault kind {key!r}; known: {', '.join(FAULT_KINDS)}")
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise FaultError(f"{key!r} must be a number >= 0")
            if key != "slow_seconds" and value > 1:
                raise FaultError(f"{key!r} is a rate and must be between 0 and 1")
            rates[key] = float(value)
        with self._lock:
            self._table[path] = rates
        return self.table()

    def table(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {path: dict(rates) for path, rates in self._table.items()}

    def decide(self, path: str) -> Decision:
        """Draw this call's faults (one draw per configured kind, in a fixed order)."""
        with self._lock:
            rates = {**self._table.get("*", {}), **self._table.get(path, {})}
            if not rates:
                return Decision()
            before = next((k for k in BEFORE if self._hit(rates.get(k, 0.0))), None)
            after = (
                None if before else next((k for k in AFTER if self._hit(rates.get(k, 0.0))), None)
            )
            slow = (
                rates.get("slow_seconds", self._default_slow)
                if self._hit(rates.get("slow", 0.0))
                else 0.0
            )
            return Decision(before, after, slow)

    def _hit(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    def chance(self, rate: float) -> bool:
        """True with probability `rate` (e.g. which form a throttling answer takes)."""
        with self._lock:
            return self._hit(rate)

    def pick(self, options: Sequence[T]) -> T:
        with self._lock:
            return self._rng.choice(options)
