"""Access and refresh tokens (jing-api.md section 2), with the test knobs to end them.

Get-token issues a new pair and ends the app's older refresh tokens, as the doc
says; older access tokens live on until they expire. Refresh issues a new access
token and keeps the refresh token (and its 30-day clock). `expire_every` makes the
current access tokens expire after every N authenticated business calls, so tests
can force an expiry in the middle of a run.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

OK = 0
INVALID = 40002
EXPIRED = 40003
REFRESH_INVALID = 40004


@dataclass
class _Token:
    app_id: str
    expires_at: float
    ended: bool = False


class TokenStore:
    """Every token ever issued, by value."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._access: dict[str, _Token] = {}
        self._refresh: dict[str, _Token] = {}
        self._calls = 0

    def issue(self, app_id: str, ttl: float, refresh_ttl: float) -> dict[str, object]:
        """A new pair; the app's older refresh tokens end."""
        now = time.time()
        refresh = str(uuid.uuid4())
        with self._lock:
            for token in self._refresh.values():
                if token.app_id == app_id:
                    token.ended = True
            self._refresh[refresh] = _Token(app_id, now + refresh_ttl)
            return self._new_access(app_id, refresh, ttl, now)

    def refresh(self, app_id: str, refresh_token: str, ttl: float) -> dict[str, object] | None:
        """A new access token, or None when the refresh token is unknown, ended or expired."""
        now = time.time()
        with self._lock:
            token = self._refresh.get(refresh_token)
            if token is None or token.ended or token.app_id != app_id or now >= token.expires_at:
                return None
            return self._new_access(app_id, refresh_token, ttl, now)

    def _new_access(self, app_id: str, refresh: str, ttl: float, now: float) -> dict[str, object]:
        access = str(uuid.uuid4())
        self._access[access] = _Token(app_id, now + ttl)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "scope": "all",
            "token_type": "bearer",
            "expires_in": int(ttl),
        }

    def check(self, app_id: str, access_token: str) -> int:
        """OK, INVALID (unknown, or another app's) or EXPIRED."""
        with self._lock:
            token = self._access.get(access_token)
            if token is None or token.app_id != app_id:
                return INVALID
            if token.ended or time.time() >= token.expires_at:
                return EXPIRED
            return OK

    def count_call(self, expire_every: int) -> None:
        """Count one authenticated call; every `expire_every` calls, end the live access tokens."""
        with self._lock:
            self._calls += 1
            if expire_every > 0 and self._calls % expire_every == 0:
                self._end(self._access)

    def expire(self, access: bool, refresh: bool) -> None:
        with self._lock:
            if access:
                self._end(self._access)
            if refresh:
                self._end(self._refresh)

    @staticmethod
    def _end(tokens: dict[str, _Token]) -> None:
        for token in tokens.values():
            token.ended = True

    def listing(self) -> dict[str, list[str]]:
        """Every token value issued (for leak hunts in logs and files)."""
        with self._lock:
            return {"access": list(self._access), "refresh": list(self._refresh)}
