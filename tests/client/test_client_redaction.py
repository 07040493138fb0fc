"""No secret in logs (captured at DEBUG, by caplog and on stderr) or in exception messages."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from jing_client import JingAuthError, JingBadRequest, JingError
from jing_client.client import JingClient
from jing_client.redact import RedactingFilter
from jing_client.settings import Paths
from jing_sandbox.process import SandboxProcess

PATHS = Paths()
PAGE = {"page": 1, "page_size": 5}


@contextmanager
def stderr_handler() -> Iterator[logging.Handler]:
    """A plain stderr handler on the root logger, as an application would configure.

    Made inside the test, so that it writes to the stderr that `capfd` captures then.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def test_no_secret_in_logs_or_errors_at_debug(
    sandbox: SandboxProcess,
    client_factory: Callable[..., JingClient],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3 included
    with stderr_handler():
        error_texts = _exercise(sandbox, client_factory)
    tokens = sandbox.tokens()
    secrets = [sandbox.app_secret, sandbox.app_secret[::-1], *tokens["access"], *tokens["refresh"]]
    assert len(tokens["access"]) >= 3 and len(tokens["refresh"]) >= 2
    out, err = capfd.readouterr()
    texts = {"caplog": caplog.text, "stdout": out, "stderr": err, "errors": error_texts}
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret leaked into {where}"
    assert "path=/v1/oauth2/token/refresh" in caplog.text  # the logs are there, without secrets
    assert "sent headers {'access_token': '***'}" in err
    assert "refresh_token=***" in err and "refresh_token=***" in caplog.text


def _exercise(sandbox: SandboxProcess, client_factory: Callable[..., JingClient]) -> str:
    """Get, refresh and replace tokens, meet garbled answers and refused calls.

    Returns the text of the errors raised (message, repr and args).
    """
    client = client_factory(sandbox)
    errors: list[JingError] = []
    client.call(PATHS.activity_list, PAGE)
    sandbox.expire_tokens(access=True)
    client.call(PATHS.activity_list, PAGE)  # refresh
    sandbox.expire_tokens(access=True, refresh=True)
    client.call(PATHS.activity_list, PAGE)  # refresh refused, new pair
    sandbox.faults(malformed=0.5)
    for _ in range(6):
        client.call(PATHS.activity_list, PAGE)
    sandbox.faults()
    with pytest.raises(JingBadRequest) as bad:
        client.call(PATHS.activity_list, {"page": 1, "page_size": 101})
    errors.append(bad.value)
    with pytest.raises(JingAuthError) as refused:
        client_factory(sandbox, app_secret=sandbox.app_secret[::-1]).call(PATHS.user_list, PAGE)
    errors.append(refused.value)
    # A library that logs what it sends, and a traceback that carries a token: masked too.
    tokens = sandbox.tokens()
    library = logging.getLogger("some.library")
    library.debug("sent headers {'access_token': '%s'}", tokens["access"][-1])
    try:
        raise RuntimeError(f"refresh_token={tokens['refresh'][-1]}")
    except RuntimeError:
        library.exception("failed")
    return " ".join(f"{e} {e!r} {e.args}" for e in errors)


def test_the_filter_is_installed_once(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    with stderr_handler() as handler:
        client_factory(sandbox)
        client_factory(sandbox)
    assert len([f for f in handler.filters if isinstance(f, RedactingFilter)]) == 1
    own = logging.getLogger("jing_client").filters
    assert len([f for f in own if isinstance(f, RedactingFilter)]) == 1
