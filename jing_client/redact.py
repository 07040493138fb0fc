"""Keep `app_secret` and tokens out of every log line and message.

The client never formats a secret on purpose; this is the second line of
defence for what it cannot control (a library logging a URL or a body, an
exception text built elsewhere). Secrets are registered here as the client
learns them (its `app_secret` at start, each token as it arrives), and
`redact` replaces every registered value in any text. The registry is
process-wide because log handlers are: one filter on a handler has to hide the
secrets of every client in the process.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"
#: Values this short are too likely to appear by chance to be masked everywhere.
MIN_SECRET_LENGTH = 6

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Remember a secret so that `redact` hides it from now on."""
    global _pattern
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        # Longest first, so a secret that contains another is masked whole.
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def redact(text: str) -> str:
    """Return `text` with every registered secret replaced by `***`."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def first_line(error: BaseException) -> str:
    """An error's first line (a driver's message runs on with hints and context), redacted."""
    text = str(error).strip()
    return redact(text.splitlines()[0] if text else type(error).__name__)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the final message and traceback of a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _pattern is None:
            return True
        message = record.getMessage()
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()


def install_filter(*loggers: logging.Logger) -> None:
    """Put the redacting filter on the root logger's handlers and on `loggers`.

    Safe to call again: a logger or handler that already has the filter is skipped.
    A filter on a logger only sees records logged on that very logger, so the
    handlers of the root logger (where records of every logger end up) get it too.
    """
    targets: list[logging.Filterer] = [*logging.getLogger().handlers, *loggers]
    for target in targets:
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(_FILTER)
