"""The counters behind GET /_sandbox/stats."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    """Business calls per path, throttled answers, faults, rows updated; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._calls: Counter[str] = Counter()
            self._codes: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._throttled_http = 0
            self._throttled_code = 0
            self._rows_updated = 0
            self._tokens_issued = 0

    def call(self, path: str) -> None:
        with self._lock:
            self._calls[path] += 1

    def answer(self, code: int | str) -> None:
        """Count one answer by its code (an int envelope code or e.g. "http_503")."""
        with self._lock:
            self._codes[str(code)] += 1

    def throttled(self, as_http: bool) -> None:
        with self._lock:
            if as_http:
                self._throttled_http += 1
            else:
                self._throttled_code += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def rows_updated(self, n: int) -> None:
        with self._lock:
            self._rows_updated += n

    def token_issued(self) -> None:
        with self._lock:
            self._tokens_issued += 1

    def snapshot(self, max_in_flight: int) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self._calls),
                "total_calls": sum(self._calls.values()),
                "throttled": self._throttled_http + self._throttled_code,
                "throttled_http": self._throttled_http,
                "throttled_code": self._throttled_code,
                "max_in_flight": max_in_flight,
                "rows_updated": self._rows_updated,
                "faults_injected": dict(self._faults),
                "tokens_issued": self._tokens_issued,
                "answers": dict(self._codes),
            }
