"""Typed errors for every way a JING API call can go wrong.

Callers branch on the class, not on numbers: the tap retries nothing itself, the
target fails a chunk on `JingBadRequest` but stops the run on `JingAuthError`.
Every error carries what a person needs to report the problem to JING (the
endpoint path, the HTTP status, the API `code`, `msg` and `request_id`) and
never a secret: messages are built from those fields only.
"""

from __future__ import annotations

#: Longest body excerpt an error carries.
EXCERPT_CHARS = 200


class JingError(Exception):
    """Base class: a call to the JING API did not give a usable answer."""

    #: Whether repeating the same request may succeed.
    transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        path: str = "",
        http_status: int | None = None,
        code: int | None = None,
        msg: str = "",
        request_id: str = "",
    ) -> None:
        self.path = path
        self.http_status = http_status
        self.code = code
        self.msg = msg
        self.request_id = request_id
        super().__init__(self._describe(message))

    def _describe(self, message: str) -> str:
        parts = [message]
        if self.path:
            parts.append(f"path={self.path}")
        if self.http_status is not None:
            parts.append(f"http_status={self.http_status}")
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.msg:
            parts.append(f"msg={self.msg!r}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts)


class JingConfigError(JingError):
    """A setting is missing or invalid; the message names the setting."""


class JingAuthError(JingError):
    """The credentials were refused (wrong app_id/app_secret): fatal for the run."""


class JingTokenError(JingError):
    """The access or refresh token was refused; the client gets a new one and retries once."""


class JingPermissionError(JingError):
    """The app may not call this interface: fatal, names the interface."""


class JingBadRequest(JingError):
    """A parameter was refused (40010, 40013): repeating the request cannot help."""


class JingNotFound(JingError):
    """The entity named in the request does not exist (40400)."""


class JingTransientError(JingError):
    """A passing fault (HTTP 5xx, code 50000, timeout, reset connection): retried."""

    transient = True


class JingUnreachable(JingTransientError):
    """The request never reached the server: refused, no such host, or no connection in time.

    Unlike a timeout while waiting for the answer, such a call cannot have taken effect.
    """


class JingHeldOff(JingUnreachable):
    """Not sent: the API asked for a wait past `max_retry_after_seconds`, and it is not over.

    Calling before then only earns another refusal, so the call fails at once, as
    retryable: it cannot have taken effect.
    """


class JingTimeout(JingTransientError):
    """No answer came in `read_timeout`: the request went out and may have taken effect."""


class JingRateLimited(JingTransientError):
    """Throttled (HTTP 429 or code 42900); `retry_after` holds the server's hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **fields: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **fields)  # type: ignore[arg-type]


class JingMalformedResponse(JingTransientError):
    """The body was not the JSON envelope (HTML page, empty, cut off).

    Treated as transient because gateways produce these under load and every
    call this project makes is safe to repeat. `excerpt` holds the first bytes.
    """

    def __init__(self, message: str, *, excerpt: str = "", **fields: object) -> None:
        self.excerpt = excerpt
        super().__init__(f"{message} excerpt={excerpt!r}", **fields)  # type: ignore[arg-type]
