"""Per-app limits: requests per second (token bucket) and requests in flight.

A request counts as in flight from when its body is read until its answer is
written, whether or not it is then throttled, so `max_in_flight` in the stats is
the concurrency a client really produced.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    tokens: float
    stamp: float = field(default_factory=time.monotonic)
    in_flight: int = 0


class Limits:
    """Admission decisions for every app, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._apps: dict[str, _Bucket] = {}
        self.max_in_flight_seen = 0

    def enter(self, app: str) -> int:
        """Count a request in flight; returns how many (itself included) the app has."""
        with self._lock:
            bucket = self._apps.get(app)
            if bucket is None:
                bucket = self._apps[app] = _Bucket(tokens=-1.0)
            bucket.in_flight += 1
            self.max_in_flight_seen = max(self.max_in_flight_seen, bucket.in_flight)
            return bucket.in_flight

    def leave(self, app: str) -> None:
        with self._lock:
            self._apps[app].in_flight -= 1

    def admit(self, app: str, in_flight: int, rate: float, max_in_flight: int) -> bool:
        """False when the request is over the in-flight cap or the rate (0 = no limit)."""
        if max_in_flight > 0 and in_flight > max_in_flight:
            return False
        if rate <= 0:
            return True
        with self._lock:
            bucket = self._apps[app]
            now = time.monotonic()
            capacity = max(1.0, rate)
            if bucket.tokens < 0:
                bucket.tokens = capacity
            else:
                bucket.tokens = min(capacity, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if bucket.tokens < 1.0:
                return False
            bucket.tokens -= 1.0
            return True

    def reset_stats(self) -> None:
        with self._lock:
            self.max_in_flight_seen = max((b.in_flight for b in self._apps.values()), default=0)
