"""Get, cache and refresh the access token that every business call carries.

One `TokenManager` serves all threads of a client: they share one token, and
when it has to be renewed, one thread renews it while the others wait for the
result instead of each asking for its own (which would end the others' tokens
on an API that keeps one token per app). The token is renewed a margin before
`expires_in` runs out, by a refresh while the refresh token is young enough,
else by getting a new pair (jing-api.md section 2). A refused refresh token
also leads to a new pair.

Token values never leave this module except as the header value: they are
registered with `redact` as they arrive, and log lines name only the event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from jing_client.errors import JingMalformedResponse, JingTokenError
from jing_client.redact import register_secret
from jing_client.settings import ClientSettings

#: Sends one unauthenticated POST and returns the envelope's `data`.
Post = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class _Tokens:
    access_token: str
    refresh_token: str
    #: Monotonic time after which the access token is renewed before use.
    renew_at: float
    #: Monotonic time after which the refresh token is not tried any more.
    refresh_until: float


class TokenManager:
    """The one access token of a client, renewed in time; thread-safe."""

    def __init__(
        self,
        settings: ClientSettings,
        post: Post,
        logger: logging.Logger,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._post = post
        self._logger = logger
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: _Tokens | None = None
        #: What stopped a `fetch_ahead`, for the next caller to raise as its own.
        self._ahead_error: Exception | None = None
        self.fetches = 0
        self.refreshes = 0

    def access_token(self) -> str:
        """The current access token, renewed first when it is due."""
        tokens = self._tokens
        if tokens is not None and self._clock() < tokens.renew_at:
            return tokens.access_token
        with self._lock:
            if self._ahead_error is not None:
                error, self._ahead_error = self._ahead_error, None
                raise error
            # Another thread may have renewed it while this one waited for the lock.
            tokens = self._tokens
            if tokens is None or self._clock() >= tokens.renew_at:
                tokens = self._renew(tokens)
                self._tokens = tokens
            return tokens.access_token

    def fetch_ahead(self) -> None:
        """Get the first token on a thread of its own, while the caller prepares its calls.

        Why: the first call would otherwise wait a whole round trip for it. The fetch
        holds the lock, so a call that comes meanwhile waits for its result rather
        than asking again; and when it fails, the next call raises that error as
        the failure of its own first attempt (its retry policy decides), so fetching
        ahead never adds an attempt or a wait. Nothing is fetched when a token is held.
        """
        threading.Thread(target=self._fetch_first, name="jing-token", daemon=True).start()

    def _fetch_first(self) -> None:
        with self._lock:
            if self._tokens is not None:
                return
            try:
                self._tokens = self._renew(None)
            except Exception as error:  # the next caller raises it, as its own
                self._ahead_error = error

    def reject(self, access_token: str, code: int | None) -> None:
        """A call was refused with a token code: renew before the next use.

        An expired token is refreshed; an invalid one is replaced by a new pair.
        Nothing changes when another thread has already replaced `access_token`.
        """
        with self._lock:
            tokens = self._tokens
            if tokens is None or tokens.access_token != access_token:
                return
            if code in self._settings.error_codes.token_expired:
                self._tokens = replace(tokens, renew_at=float("-inf"))
            else:
                self._tokens = None

    def _renew(self, tokens: _Tokens | None) -> _Tokens:
        if tokens is not None and tokens.refresh_token and self._clock() < tokens.refresh_until:
            try:
                return self._refresh(tokens)
            except JingTokenError as error:
                self._logger.info(
                    "refresh token refused (code=%s request_id=%s); getting a new pair",
                    error.code,
                    error.request_id,
                )
        return self._fetch()

    def _fetch(self) -> _Tokens:
        settings = self._settings
        path = settings.paths.token
        sent_at = self._clock()
        data = self._post(path, {"app_id": settings.app_id, "app_secret": settings.app_secret})
        access, refresh, expires_in = _read_tokens(data, path)
        self.fetches += 1
        self._logger.info("got a new access token pair (expires_in=%ss)", expires_in)
        return _Tokens(
            access_token=access,
            refresh_token=refresh,
            renew_at=sent_at + expires_in - self._margin(expires_in),
            refresh_until=sent_at + settings.refresh_token_ttl_seconds,
        )

    def _refresh(self, tokens: _Tokens) -> _Tokens:
        settings = self._settings
        path = settings.paths.token_refresh
        sent_at = self._clock()
        body = {
            "app_id": settings.app_id,
            "app_secret": settings.app_secret,
            "refresh_token": tokens.refresh_token,
        }
        access, refresh, expires_in = _read_tokens(self._post(path, body), path)
        self.refreshes += 1
        self._logger.info("refreshed the access token (expires_in=%ss)", expires_in)
        # The refresh token's age counts from when its pair was issued: renewing it
        # early costs one call a month, trusting it too long costs a refused call.
        return replace(
            tokens,
            access_token=access,
            refresh_token=refresh or tokens.refresh_token,
            renew_at=sent_at + expires_in - self._margin(expires_in),
        )

    def _margin(self, expires_in: float) -> float:
        """The renewal margin, at most half the lifetime so a short-lived token is still used."""
        return min(self._settings.token_refresh_margin_seconds, expires_in / 2)


def _read_tokens(data: Any, path: str) -> tuple[str, str, float]:
    """Check a token answer's `data` and return (access, refresh, expires_in)."""
    if isinstance(data, Mapping):
        access = data.get("access_token")
        refresh = data.get("refresh_token") or ""
        for value in (access, refresh):
            if isinstance(value, str):
                register_secret(value)
        expires_in = _seconds(data.get("expires_in"))
        if _sendable(access) and isinstance(refresh, str) and expires_in:
            return access, refresh, expires_in
    # Name the fields only: the values may be tokens.
    keys = sorted(data) if isinstance(data, Mapping) else type(data).__name__
    raise JingMalformedResponse(
        "token answer lacks access_token/refresh_token/expires_in, or its access_token "
        "is not printable ASCII",
        excerpt=f"data keys: {keys}",
        path=path,
    )


def _sendable(token: Any) -> bool:
    """Whether `token` can go in a header as it is: printable ASCII, not empty (a line
    break in it would be refused when sending, call after call)."""
    return isinstance(token, str) and bool(token) and token.isascii() and token.isprintable()


def _seconds(value: Any) -> float | None:
    """A positive number of seconds from a number or a numeric string, else None."""
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None
