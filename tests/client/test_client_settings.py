"""Settings validation: every bad value is refused with a message naming the setting."""

from __future__ import annotations

from typing import Any

import pytest

from jing_client import ClientSettings, JingConfigError

SECRET = "5a4d0b0e5e1f4c7c9d3b2a1f0e9d8c7b"
GOOD = {"app_id": "100000000000000000000000001", "app_secret": SECRET}


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"app_id": ""}, "app_id"),
        ({"app_secret": None}, "app_secret"),
        ({"base_url": "ftp://example.com"}, "base_url"),
        ({"base_url": "http://api.example.com"}, "base_url"),
        ({"api_timezone": "Mars/Olympus"}, "api_timezone"),
        ({"page_size_limit": 0}, "page_size_limit"),
        ({"batch_size_limit": 2.5}, "batch_size_limit"),
        ({"requests_per_second": -1}, "requests_per_second"),
        ({"max_concurrency": True}, "max_concurrency"),
        ({"connect_timeout": "10"}, "connect_timeout"),
        ({"read_timeout": 0}, "read_timeout"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_retry_seconds": -5}, "max_retry_seconds"),
        ({"backoff_base_seconds": -0.1}, "backoff_base_seconds"),
        ({"backoff_max_seconds": "x"}, "backoff_max_seconds"),
        ({"token_refresh_margin_seconds": -1}, "token_refresh_margin_seconds"),
        ({"refresh_token_ttl_seconds": -1}, "refresh_token_ttl_seconds"),
        ({"token_path": "v1/oauth2/token"}, "token_path"),
        ({"not_found_codes": ["x"]}, "not_found_codes"),
    ],
)
def test_bad_setting_is_named(overrides: dict[str, Any], setting: str) -> None:
    with pytest.raises(JingConfigError) as caught:
        ClientSettings.from_config({**GOOD, **overrides})
    assert f"'{setting}'" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_flat_config_overrides_paths_and_codes() -> None:
    settings = ClientSettings.from_config(
        {**GOOD, "user_list_path": "/v2/user/list", "throttled_codes": ["42900", 42901]}
    )
    assert settings.paths.user_list == "/v2/user/list"
    assert settings.error_codes.throttled == (42900, 42901)
    assert SECRET not in repr(settings)


def test_plain_http_is_allowed_on_loopback_only_unless_asked() -> None:
    assert ClientSettings.from_config({**GOOD, "base_url": "http://127.0.0.1:8080"})
    assert ClientSettings.from_config(
        {**GOOD, "base_url": "http://api.example.com", "allow_insecure_http": True}
    )
