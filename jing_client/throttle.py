"""The requests-per-second pace and the concurrency cap shared by one client's threads.

The API limits both the rate and the number of requests in flight per app
(jing-api.md section 3). Staying under both costs less than being throttled:
every 429 or 42900 is a wasted round trip and a wait. The pace is a row of
evenly spaced slots (`1 / rate` apart), which keeps a steady stream below a
per-second window without bursts. When the server throttles anyway (another
process shares the app, or the limit is lower than configured), the rate is
halved, down to a floor, and climbs back linearly to the configured rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: The slowest pace after repeated throttling, as a share of the configured rate.
FLOOR_FRACTION = 1 / 16
#: Seconds the rate needs to climb back from the floor to the configured rate.
RECOVERY_SECONDS = 10.0


class Throttle:
    """Paces request starts and caps how many run at once; thread-safe."""

    def __init__(
        self,
        requests_per_second: float,
        max_concurrency: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_rate = float(requests_per_second)
        self.floor_rate = self.max_rate * FLOOR_FRACTION
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._next_start = clock()
        # The rate after the last cut, and when it was cut; the rate recovers from there.
        self._cut_rate = self.max_rate
        self._cut_at = float("-inf")

    def rate(self) -> float:
        """The current pace in requests per second."""
        with self._lock:
            return self._rate_at(self._clock())

    def _rate_at(self, now: float) -> float:
        climb = (self.max_rate - self.floor_rate) * (now - self._cut_at) / RECOVERY_SECONDS
        return min(self.max_rate, self._cut_rate + climb)

    def set_max_rate(self, requests_per_second: float) -> None:
        """Change the configured pace (shards of one app's budget as they start and end).

        A pace that throttling cut stays cut, from where it is now and at most the
        new rate, and recovers to the new rate.
        """
        with self._lock:
            now = self._clock()
            current = self._rate_at(now)
            recovering = current < self.max_rate
            self.max_rate = float(requests_per_second)
            self.floor_rate = self.max_rate * FLOOR_FRACTION
            if recovering:
                self._cut_rate, self._cut_at = min(current, self.max_rate), now
            else:
                self._cut_rate, self._cut_at = self.max_rate, float("-inf")

    def slow_down(self, started_at: float, pause_seconds: float | None = None) -> None:
        """Halve the rate after a throttling answer; hold every start for `pause_seconds`.

        `started_at` is when the throttled request started (as `slot` yields it).
        Answers to requests that started before the last cut describe the overload
        that cut already answered, so they do not cut again.
        """
        with self._lock:
            now = self._clock()
            if started_at >= self._cut_at:
                self._cut_rate = max(self.floor_rate, self._rate_at(now) / 2)
                self._cut_at = now
            if pause_seconds:
                self._next_start = max(self._next_start, now + pause_seconds)

    def _wait_for_start(self) -> float:
        with self._lock:
            now = self._clock()
            start = max(now, self._next_start)
            self._next_start = start + 1.0 / self._rate_at(start)
        if start > now:
            self._sleep(start - now)
        return start

    @contextmanager
    def slot(self) -> Iterator[float]:
        """Hold one of the `max_concurrency` places from the next paced start; yield that start."""
        with self._slots:
            yield self._wait_for_start()
