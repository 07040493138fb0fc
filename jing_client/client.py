"""`JingClient`: one pooled, paced, retrying, token-carrying client for the JING API.

Every call goes through the same few steps, each owned by one module: a token
from `tokens`, a paced slot from `throttle`, one HTTP POST here, the answer
turned into an `Envelope` or a typed error here, and the whole repeated by
`retry` while the error is transient. A token refused as invalid or expired is
renewed and the call repeated once, inside the same attempt, because it is the
client's own bookkeeping and not a fault of the API.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import orjson

from jing_client.errors import (
    EXCERPT_CHARS,
    JingAuthError,
    JingBadRequest,
    JingConfigError,
    JingError,
    JingHeldOff,
    JingMalformedResponse,
    JingNotFound,
    JingPermissionError,
    JingRateLimited,
    JingTimeout,
    JingTokenError,
    JingTransientError,
    JingUnreachable,
)
from jing_client.pages import Page, read_pages
from jing_client.redact import install_filter, redact, register_secret
from jing_client.retry import RetryPolicy
from jing_client.settings import ClientSettings, ErrorCodes
from jing_client.throttle import Throttle
from jing_client.tokens import TokenManager
from jing_client.transport import (
    BodyCutOff,
    BodyDropped,
    NoConnection,
    ReadTimedOut,
    TlsRefused,
    Transport,
    TransportError,
)

LOGGER_NAME = "jing_client"
#: An answer's headers: read by name, whatever the case (`http_wire.AnswerHeaders` on
#: the wire, a dict in tests).
Headers = Mapping[str, str]


@dataclass(frozen=True)
class Envelope:
    """One successful answer (`code == 0`): the payload and what identifies the call."""

    data: Any
    code: int
    msg: str
    request_id: str
    http_status: int
    timestamp: int | None


class JingClient:
    """The JING API for one app; one per process, shared by all its threads."""

    def __init__(self, settings: ClientSettings, logger: logging.Logger | None = None) -> None:
        self.settings = settings
        self._logger = logger or logging.getLogger(LOGGER_NAME)
        register_secret(settings.app_secret)
        install_filter(logging.getLogger(LOGGER_NAME), self._logger)
        self._base_url = settings.base_url.rstrip("/")
        self._transport = Transport(
            self._base_url,
            settings.max_concurrency,
            (settings.connect_timeout, settings.read_timeout),
        )
        self._throttle = Throttle(settings.requests_per_second, settings.max_concurrency)
        self._retry = RetryPolicy(
            max_attempts=settings.max_attempts,
            max_retry_seconds=settings.max_retry_seconds,
            max_retry_after_seconds=settings.max_retry_after_seconds,
            backoff_base_seconds=settings.backoff_base_seconds,
            backoff_max_seconds=settings.backoff_max_seconds,
        )
        self._tokens = TokenManager(settings, self._post_unauthenticated, self._logger)
        self._counts_lock = threading.Lock()
        self._counts = {"calls": 0, "retries": 0, "throttled": 0}
        self._by_path: dict[str, dict[str, int]] = {}
        # Until when (time.monotonic) the API asked for a rest longer than we wait.
        self._held_off_until = float("-inf")

    # -- public interface -------------------------------------------------------------

    def call(self, path: str, body: Mapping[str, Any]) -> Envelope:
        """POST `body` to `path` with a token; retry transient faults; raise typed errors."""
        payload = dict(body)

        def on_retry(error: JingTransientError, attempt: int, wait: float) -> None:
            self._count("retries", path)
            level = logging.INFO if isinstance(error, JingRateLimited) else logging.WARNING
            self._logger.log(
                level,
                "retrying path=%s after %s (attempt %d of %d failed), waiting %.2fs: %s",
                path,
                type(error).__name__,
                attempt,
                self.settings.max_attempts,
                wait,
                error,
            )

        return self._retry.run(lambda: self._authorized_attempt(path, payload), on_retry)

    def iter_pages(
        self, path: str, body: Mapping[str, Any], page_size: int | None = None, ahead: int = 1
    ) -> Iterator[Page]:
        """Yield every page of a list endpoint in order, up to `ahead` asked for at once.

        See `jing_client.pages`: it ends on a short page, never asks past `total`,
        and raises `JingMalformedResponse` for a listing that repeats itself.
        """
        limit = self.settings.page_size_limit
        size = min(page_size or limit, limit)
        if size <= 0:
            raise JingBadRequest(f"page_size must be positive, got {page_size!r}", path=path)
        return read_pages(self.call, path, body, size, ahead)

    def update_user_status(
        self, entity_uuid: str, user_ids: Sequence[str], fields: Mapping[str, Any]
    ) -> Envelope:
        """Set the same status `fields` on `user_ids` of one activity (jing-api.md 6.4).

        Returns the envelope as it came: users missing from `data` were not
        updated, and the caller decides what that means for each row.
        """
        path = self.settings.paths.user_status_batch
        if len(user_ids) > self.settings.batch_size_limit:
            raise JingBadRequest(
                f"{len(user_ids)} user_ids exceed the setting 'batch_size_limit' "
                f"({self.settings.batch_size_limit})",
                path=path,
            )
        return self.call(path, {**fields, "entity_uuid": entity_uuid, "user_ids": list(user_ids)})

    def fetch_token_ahead(self) -> None:
        """Start getting the token now, for calls about to come (`TokenManager.fetch_ahead`)."""
        self._tokens.fetch_ahead()

    def set_pace(self, requests_per_second: float) -> None:
        """Pace calls at `requests_per_second` from now on (`Throttle.set_max_rate`)."""
        self._throttle.set_max_rate(requests_per_second)

    def stats(self) -> dict[str, int]:
        """Counters since the client was created: HTTP calls, retries, throttling, tokens."""
        with self._counts_lock:
            counts = dict(self._counts)
        counts["token_fetches"] = self._tokens.fetches
        counts["token_refreshes"] = self._tokens.refreshes
        return counts

    def stats_by_path(self) -> dict[str, dict[str, int]]:
        """The same counters (calls, retries, throttled) for each endpoint path."""
        with self._counts_lock:
            return {path: dict(counts) for path, counts in self._by_path.items()}

    def close(self) -> None:
        """Close the pooled connections."""
        self._transport.close()

    def __enter__(self) -> JingClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- one attempt ------------------------------------------------------------------

    def _authorized_attempt(self, path: str, body: dict[str, Any]) -> Envelope:
        """One attempt; a refused token is renewed and the call repeated once.

        A token refused again (threads share it: another thread's renewal, or the
        next expiry, can end it before the repeat arrives) is a passing fault, so
        it is raised as transient and the retry policy tries again, with backoff.
        """
        token = self._tokens.access_token()
        try:
            return self._exchange(path, body, self._headers(token))
        except JingTokenError as error:
            self._renew_after(path, token, error)
        token = self._tokens.access_token()
        try:
            return self._exchange(path, body, self._headers(token))
        except JingTokenError as error:
            self._renew_after(path, token, error)
            raise JingTransientError(
                "token refused again after renewal",
                path=path,
                http_status=error.http_status,
                code=error.code,
                msg=error.msg,
                request_id=error.request_id,
            ) from None

    def _renew_after(self, path: str, token: str, error: JingTokenError) -> None:
        self._logger.info(
            "token refused on path=%s (code=%s request_id=%s); renewing it",
            path,
            error.code,
            error.request_id,
        )
        self._tokens.reject(token, error.code)

    def _post_unauthenticated(self, path: str, body: dict[str, Any]) -> Any:
        return self._exchange(path, body, {"app_id": self.settings.app_id}).data

    def _headers(self, token: str) -> dict[str, str]:
        return {"app_id": self.settings.app_id, "access_token": token}

    def _exchange(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> Envelope:
        """One paced HTTP POST, turned into an `Envelope` or a typed error."""
        self._refuse_while_held_off(path)
        with self._throttle.slot() as slot_start:
            self._count("calls", path)
            started = time.perf_counter()
            status, response_headers, content = self._send(path, body, headers)
        elapsed_ms = (time.perf_counter() - started) * 1000
        try:
            envelope = parse_envelope(
                status, response_headers, content, path, self.settings.error_codes
            )
        except JingRateLimited as error:
            self._count("throttled", path)
            self._log_call(path, error.http_status, error.code, error.request_id, elapsed_ms)
            if not self._retry.past_retry_after_cap(error):
                self._throttle.slow_down(slot_start, error.retry_after)
                raise
            self._throttle.slow_down(slot_start)
            raise self._hold_off(error) from None
        except JingError as error:
            self._log_call(path, error.http_status, error.code, error.request_id, elapsed_ms)
            raise
        self._log_call(path, status, envelope.code, envelope.request_id, elapsed_ms)
        return envelope

    def _hold_off(self, error: JingRateLimited) -> JingRateLimited:
        """Make no call until the server's wait is over; the error that says so, for this call."""
        wait = float(error.retry_after or 0.0)
        with self._counts_lock:
            self._held_off_until = max(self._held_off_until, time.monotonic() + wait)
        cap = self._retry.retry_after_cap
        return JingRateLimited(
            f"throttled, and asked to wait {wait:g}s (Retry-After), past {cap:g}s "
            "(max_retry_after_seconds, at most max_retry_seconds): not retried, and no call "
            "is made until then",
            retry_after=error.retry_after,
            path=error.path,
            http_status=error.http_status,
            code=error.code,
            msg=error.msg,
            request_id=error.request_id,
        )

    def _refuse_while_held_off(self, path: str) -> None:
        """Fail a call at once, unsent, while a wait past `max_retry_after_seconds` lasts."""
        remaining = self._held_off_until - time.monotonic()
        if remaining > 0:
            raise JingHeldOff(
                f"not sent: the API asked for a wait past {self._retry.retry_after_cap:g}s "
                f"(max_retry_after_seconds), and {remaining:.0f}s of it remain",
                path=path,
            )

    def _send(
        self, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, Headers, bytes]:
        """POST and read the whole body; transport failures become transient errors."""
        try:
            answer = self._transport.post(path, body, headers)
        except TlsRefused:
            host = urlsplit(self._base_url).hostname
            raise JingConfigError(
                f"the TLS certificate of {host} was refused (path={path}): fix 'base_url', or "
                "point REQUESTS_CA_BUNDLE at the CA bundle that signs it; not retried"
            ) from None
        except NoConnection as exc:  # refused, no such host, connect timeout: unsent
            raise JingUnreachable(
                f"no connection to {self._base_url}: {redact(str(exc))}", path=path
            ) from None
        except ReadTimedOut as exc:
            raise JingTimeout(f"timed out: {redact(str(exc))}", path=path) from None
        except BodyCutOff as exc:
            raise JingMalformedResponse("body cut off", path=path, http_status=exc.status) from None
        except BodyDropped as exc:
            raise JingTransientError(
                f"connection dropped while reading the body: {redact(str(exc))}",
                path=path,
                http_status=exc.status,
            ) from None
        except TransportError as exc:
            raise JingTransientError(f"connection failed: {redact(str(exc))}", path=path) from None
        return answer.status, answer.headers, answer.content

    def _log_call(
        self, path: str, status: int | None, code: int | None, request_id: str, ms: float
    ) -> None:
        self._logger.debug(
            "call path=%s status=%s code=%s request_id=%s ms=%.1f",
            path,
            status,
            code,
            request_id,
            ms,
        )

    def _count(self, name: str, path: str) -> None:
        with self._counts_lock:
            self._counts[name] += 1
            counts = self._by_path.setdefault(path, {"calls": 0, "retries": 0, "throttled": 0})
            counts[name] += 1


# -- answers ------------------------------------------------------------------------------


def parse_envelope(
    status: int, headers: Headers, content: bytes, path: str, codes: ErrorCodes
) -> Envelope:
    """Turn one HTTP answer into an `Envelope`, or raise the typed error it stands for."""
    if 300 <= status < 400:
        target = urlsplit(headers.get("Location") or "")
        where = target.hostname or "(no Location)"
        raise JingConfigError(
            f"HTTP {status}: the API redirected {path} to host {where}; redirects are never "
            "followed (the credentials would go along): set 'base_url' to the address that "
            "answers",
            path=path,
            http_status=status,
        )
    if status == 429:
        raise JingRateLimited(
            "throttled (HTTP 429)",
            retry_after=_retry_after(headers),
            path=path,
            http_status=status,
            **_envelope_fields(content),
        )
    if status >= 500:
        raise JingTransientError(
            f"server error (HTTP {status}) excerpt={_excerpt(content)!r}",
            path=path,
            http_status=status,
            **_envelope_fields(content),
        )
    document = _json(content)
    if not _is_envelope(document):
        if 200 <= status < 300:
            reason = "empty body" if not content.strip() else "body is not the JSON envelope"
            raise JingMalformedResponse(
                reason, excerpt=_excerpt(content), path=path, http_status=status
            )
        # A gateway's own page for a wrong path or a refused request: repeating cannot help.
        raise JingError(
            f"HTTP {status} without the JSON envelope excerpt={_excerpt(content)!r}",
            path=path,
            http_status=status,
        )
    fields = _envelope_fields(content, document)
    code = document["code"]
    if code == 0 and 200 <= status < 300:
        return Envelope(
            data=document.get("data"),
            code=0,
            msg=fields["msg"],
            request_id=fields["request_id"],
            http_status=status,
            timestamp=document.get("timestamp")
            if isinstance(document.get("timestamp"), int)
            else None,
        )
    raise _error_for_code(code, codes, path, status, headers, fields)


def _error_for_code(
    code: int,
    codes: ErrorCodes,
    path: str,
    status: int,
    headers: Headers,
    fields: dict[str, Any],
) -> JingError:
    context: dict[str, Any] = {"path": path, "http_status": status, **fields}
    if code in codes.bad_credentials:
        return JingAuthError(
            "credentials refused: check the settings 'app_id' and 'app_secret'", **context
        )
    if code in (*codes.token_invalid, *codes.token_expired, *codes.refresh_invalid):
        return JingTokenError("token refused", **context)
    if code in codes.permission:
        return JingPermissionError(f"the app may not call the interface {path}", **context)
    if code in codes.throttled:
        return JingRateLimited("throttled", retry_after=_retry_after(headers), **context)
    if code in codes.transient:
        return JingTransientError("the API reported an internal error", **context)
    if code in codes.bad_request:
        return JingBadRequest("the API refused the request", **context)
    if code in codes.not_found:
        return JingNotFound("the API found no such entity", **context)
    return JingError("the API answered an error code this client does not know", **context)


def _json(content: bytes) -> Any:
    """The JSON document in `content`, or None for a body that is not one.

    orjson reads an echo of 100 items in 45-60 us against `json`'s 110-120 (about
    0.13 s of CPU in a run of 2,000 calls). What it refuses is read by `json`, so
    what counts as JSON stays `json`'s: NaN, lone surrogates, UTF-16, a byte-order
    mark. Two differences are kept. orjson reads an integer past 64 bits as a float:
    no JING answer holds one; in `data` any number is "not the value sent" either way,
    and an envelope whose `code` reads as a float is read again by `json`, so that
    its code is told as `json` tells it. And a lone surrogate is kept as its escape
    (`_utf8`). Nesting too deep to read is not a document.
    """
    try:
        document = orjson.loads(content)
    except orjson.JSONDecodeError:
        pass
    else:
        if type(document) is not dict or type(document.get("code")) is not float:
            return document
    try:
        return _utf8(json.loads(content))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _utf8(document: Any) -> Any:
    """`document` (as `json` made it) with each string in it, key or value, as UTF-8 can
    hold it.

    Why: JSON can carry a lone surrogate (`"\\ud800"`, which `json` reads and orjson
    refuses), and no UTF-8 text can: not a Singer message, an Arrow column, a database or
    a log file. A tap record or a read-back id holding one failed the run, and an echo
    its record. Each is kept as its escape (`\\ud800`, six characters), here where answers
    are read, so no reader of an answer meets one. A loop, not a recursion: `json` reads
    nesting deeper than Python's recursion limit.
    """
    top = [document]
    places: list[tuple[Any, Any]] = [(top, 0)]
    while places:
        holder, key = places.pop()
        value = holder[key]
        if isinstance(value, str):
            holder[key] = _escaped(value)
        elif isinstance(value, list):
            places += ((value, index) for index in range(len(value)))
        elif isinstance(value, dict):
            holder[key] = value = {_escaped(name): item for name, item in value.items()}
            places += ((value, name) for name in value)
    return top[0]


def _escaped(text: str) -> str:
    """`text` with each lone surrogate as its escape (the only characters UTF-8 refuses)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _is_envelope(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and isinstance(document.get("code"), int)
        and not isinstance(document.get("code"), bool)
    )


def _envelope_fields(content: bytes, document: Any = None) -> dict[str, Any]:
    """`code`, `msg` (or `message`) and `request_id` of a body, as far as it has them."""
    if document is None:
        document = _json(content)
    if not _is_envelope(document):
        return {"code": None, "msg": "", "request_id": ""}
    msg = document.get("msg") or document.get("message") or ""
    request_id = document.get("request_id") or ""
    return {"code": document["code"], "msg": redact(str(msg)), "request_id": str(request_id)}


def _excerpt(content: bytes) -> str:
    """The start of a body, secrets masked first so that a cut cannot expose half of one."""
    return redact(content.decode("utf-8", errors="replace"))[:EXCERPT_CHARS]


def _retry_after(headers: Headers) -> float | None:
    """`Retry-After` in seconds, from either form HTTP allows: seconds or an HTTP date.

    A date in the past means "now" (0); garbage gives None, and the backoff decides.
    """
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT; an obsolete form may lack the zone
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return seconds if seconds >= 0 else None
