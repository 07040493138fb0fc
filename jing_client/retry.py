"""Repeat a call after a passing fault, with bounded patience.

Only `JingTransientError` (and its subclasses) is retried: the fault may be gone
on the next attempt. Everything else reaches the caller at once, because
repeating a refused request can only be refused again. The wait is exponential
backoff with full jitter (a random wait between 0 and `base * 2**(attempt-1)`,
capped at `backoff_max_seconds`), so that many threads that failed together do
not come back together. When the server says how long to wait (`Retry-After`),
the wait is at least that long (a `Retry-After: 0` still gets the backoff, so
that a busy server is not asked again at once), unless that is longer than
`max_retry_after_seconds`: such a call is not retried at all (`past_retry_after_cap`),
since a server that asks for a day's rest would otherwise hold the run for a day;
nor is a call the client held back for that rest (`JingHeldOff`).
Both the number of attempts and the total time are bounded; the last error is raised
when either runs out.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from jing_client.errors import JingHeldOff, JingRateLimited, JingTransientError

T = TypeVar("T")

#: Called before each wait with the error, the attempt that failed (1-based) and the wait.
OnRetry = Callable[[JingTransientError, int, float], None]


class RetryPolicy:
    """Backoff and bounds for one client; `run` is safe to call from many threads."""

    def __init__(
        self,
        *,
        max_attempts: int,
        max_retry_seconds: float,
        max_retry_after_seconds: float,
        backoff_base_seconds: float,
        backoff_max_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.max_attempts = max_attempts
        self.max_retry_seconds = max_retry_seconds
        self.max_retry_after_seconds = max_retry_after_seconds
        self.backoff_base_seconds = backoff_base_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()

    def wait_after(self, attempt: int, error: JingTransientError) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))
        backoff = self._rng.uniform(0.0, ceiling)
        if isinstance(error, JingRateLimited) and error.retry_after is not None:
            return max(error.retry_after, backoff)
        return backoff

    @property
    def retry_after_cap(self) -> float:
        """The longest `Retry-After` waited for: the setting, and never past the whole
        retry budget (a wait longer than that could not end in a retry anyway)."""
        return min(self.max_retry_after_seconds, self.max_retry_seconds)

    def past_retry_after_cap(self, error: JingTransientError) -> bool:
        """Whether the server asked for a longer wait than this policy will ever make."""
        return (
            isinstance(error, JingRateLimited)
            and error.retry_after is not None
            and error.retry_after > self.retry_after_cap
        )

    def run(self, attempt_call: Callable[[], T], on_retry: OnRetry | None = None) -> T:
        """Call `attempt_call` until it returns, a non-transient error, or a bound is reached."""
        started = self._clock()
        attempt = 1
        while True:
            try:
                return attempt_call()
            except JingTransientError as error:
                if (
                    attempt >= self.max_attempts
                    or self.past_retry_after_cap(error)
                    or isinstance(error, JingHeldOff)
                ):
                    raise
                wait = self.wait_after(attempt, error)
                if self._clock() - started + wait > self.max_retry_seconds:
                    raise
                if on_retry is not None:
                    on_retry(error, attempt, wait)
                self._sleep(wait)
                attempt += 1
