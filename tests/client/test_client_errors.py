"""Each kind of API answer becomes the right typed error, with what a person needs to report it."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from client_helpers import answers, path_calls

from jing_client import (
    JingAuthError,
    JingBadRequest,
    JingError,
    JingNotFound,
    JingPermissionError,
    JingRateLimited,
    JingTransientError,
)
from jing_client.client import JingClient
from jing_client.settings import Paths
from jing_sandbox.process import SandboxProcess

PATHS = Paths()
REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def _has_context(error: JingError, path: str, code: int) -> None:
    assert error.code == code
    assert error.path == path
    assert error.msg
    assert REQUEST_ID.match(error.request_id)
    assert f"path={path}" in str(error) and f"request_id={error.request_id}" in str(error)


def test_bad_credentials_name_the_settings_not_the_secret(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    wrong = "0" * 32
    client = client_factory(sandbox, app_secret=wrong)
    with pytest.raises(JingAuthError) as caught:
        client.call(PATHS.activity_list, {"page": 1})
    _has_context(caught.value, PATHS.token, 40001)
    assert "'app_id'" in str(caught.value) and "'app_secret'" in str(caught.value)
    assert wrong not in str(caught.value)
    assert path_calls(sandbox, PATHS.token) == 1  # not retried


def test_permission(sandbox: SandboxProcess, client_factory: Callable[..., JingClient]) -> None:
    sandbox.faults(path=PATHS.activity_list, permission=1.0)
    with pytest.raises(JingPermissionError) as caught:
        client_factory(sandbox).call(PATHS.activity_list, {"page": 1})
    _has_context(caught.value, PATHS.activity_list, 40300)
    assert PATHS.activity_list in caught.value.args[0]
    assert path_calls(sandbox, PATHS.activity_list) == 1


def test_bad_request_is_not_retried(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    with pytest.raises(JingBadRequest) as caught:
        client_factory(sandbox).call(PATHS.activity_list, {"page": 1, "page_size": 101})
    _has_context(caught.value, PATHS.activity_list, 40010)
    assert "page_size" in caught.value.msg
    assert path_calls(sandbox, PATHS.activity_list) == 1


def test_not_found(sandbox: SandboxProcess, client_factory: Callable[..., JingClient]) -> None:
    with pytest.raises(JingNotFound) as caught:
        client_factory(sandbox).call(
            PATHS.activity_detail, {"entity_uuid": "noSuchActivity1234567"}
        )
    _has_context(caught.value, PATHS.activity_detail, 40400)
    assert path_calls(sandbox, PATHS.activity_detail) == 1


@pytest.mark.parametrize(("ratio", "status"), [(0.0, 200), (1.0, 429)])
def test_throttled_as_code_or_http(
    sandbox: SandboxProcess,
    client_factory: Callable[..., JingClient],
    ratio: float,
    status: int,
) -> None:
    sandbox.configure(throttle_http_ratio=ratio, retry_after=0)
    sandbox.faults(path=PATHS.activity_list, throttle=1.0)
    client = client_factory(sandbox, max_attempts=3)
    with pytest.raises(JingRateLimited) as caught:
        client.call(PATHS.activity_list, {"page": 1})
    _has_context(caught.value, PATHS.activity_list, 42900)
    assert caught.value.http_status == status
    assert caught.value.retry_after == 0
    assert path_calls(sandbox, PATHS.activity_list) == 3
    assert client.stats()["throttled"] == 3


def test_code_50000_is_transient(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    sandbox.faults(path=PATHS.activity_list, code_50000=1.0)
    with pytest.raises(JingTransientError) as caught:
        client_factory(sandbox).call(PATHS.activity_list, {"page": 1})
    _has_context(caught.value, PATHS.activity_list, 50000)
    assert path_calls(sandbox, PATHS.activity_list) == 4


def test_http_5xx_is_transient(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    sandbox.faults(path=PATHS.activity_list, http_5xx=1.0)
    with pytest.raises(JingTransientError) as caught:
        client_factory(sandbox).call(PATHS.activity_list, {"page": 1})
    assert caught.value.http_status in (500, 502, 503)
    assert caught.value.path == PATHS.activity_list
    assert path_calls(sandbox, PATHS.activity_list) == 4


def test_code_outside_every_class_is_a_plain_error_not_retried(
    sandbox: SandboxProcess, client_factory: Callable[..., JingClient]
) -> None:
    client = client_factory(sandbox, not_found_codes=[])  # 40400 now belongs to no class
    with pytest.raises(JingError) as caught:
        client.call(PATHS.activity_detail, {"entity_uuid": "noSuchActivity1234567"})
    assert type(caught.value) is JingError
    _has_context(caught.value, PATHS.activity_detail, 40400)
    assert answers(sandbox, 40400) == 1
