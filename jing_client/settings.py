"""Every knob of the JING client, with the defaults of `jing-api.md`.

Each value tagged [contract] in the API reference is a field here, so that a user
can follow the real API where it differs from our assumptions without a code
change. The tap and the target build a `ClientSettings` from their Singer config
with `ClientSettings.from_config`, which is also the one place that validates
those settings and names the bad one.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jing_client.errors import JingConfigError

PRODUCTION_BASE_URL = "https://jingopenapi.jingsocial.com"


@dataclass(frozen=True)
class ErrorCodes:
    """How API `code` values map to error classes [contract]."""

    bad_credentials: tuple[int, ...] = (40001,)
    token_invalid: tuple[int, ...] = (40002,)
    token_expired: tuple[int, ...] = (40003,)
    refresh_invalid: tuple[int, ...] = (40004,)
    permission: tuple[int, ...] = (40300,)
    bad_request: tuple[int, ...] = (40010, 40013)
    not_found: tuple[int, ...] = (40400,)
    throttled: tuple[int, ...] = (42900,)
    transient: tuple[int, ...] = (50000,)


@dataclass(frozen=True)
class Paths:
    """Endpoint paths [contract, except the batch update and refresh, which are doc]."""

    token: str = "/v1/oauth2/token"
    token_refresh: str = "/v1/oauth2/token/refresh"
    activity_list: str = "/v1/activity/list"
    activity_detail: str = "/v1/activity/detail"
    activity_user_list: str = "/v1/activity/user/list"
    user_status_batch: str = "/v1/activity/update/userStatus/batch"
    user_list: str = "/v1/user/list"


@dataclass(frozen=True)
class ClientSettings:
    """Connection, limits and API assumptions for one JING app."""

    app_id: str
    app_secret: str = field(repr=False)
    base_url: str = PRODUCTION_BASE_URL
    allow_insecure_http: bool = False
    paths: Paths = field(default_factory=Paths)
    error_codes: ErrorCodes = field(default_factory=ErrorCodes)
    page_size_limit: int = 100
    batch_size_limit: int = 100
    api_timezone: str = "Asia/Shanghai"
    requests_per_second: float = 20.0
    max_concurrency: int = 5
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 8
    max_retry_seconds: float = 300.0
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    token_refresh_margin_seconds: float = 300.0
    refresh_token_ttl_seconds: float = 30 * 24 * 3600.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise `JingConfigError` naming the first bad setting."""
        if not self.app_id:
            raise JingConfigError("setting 'app_id' is required")
        if not self.app_secret:
            raise JingConfigError("setting 'app_secret' is required")
        _check_base_url(self.base_url, self.allow_insecure_http)
        try:
            ZoneInfo(self.api_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise JingConfigError(
                f"setting 'api_timezone' is not a known IANA zone: {self.api_timezone!r}"
            ) from exc
        for name in ("page_size_limit", "batch_size_limit", "max_concurrency", "max_attempts"):
            _check_number(name, getattr(self, name), whole=True, allow_zero=False)
        for name in ("requests_per_second", "connect_timeout", "read_timeout", "max_retry_seconds"):
            _check_number(name, getattr(self, name), whole=False, allow_zero=False)
        for name in (
            "backoff_base_seconds",
            "backoff_max_seconds",
            "token_refresh_margin_seconds",
            "refresh_token_ttl_seconds",
        ):
            _check_number(name, getattr(self, name), whole=False, allow_zero=True)
        for path_name, path in dataclasses.asdict(self.paths).items():
            if not isinstance(path, str) or not path.startswith("/"):
                raise JingConfigError(f"setting '{path_name}_path' must start with '/': {path!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ClientSettings:
        """Build settings from a flat Singer config (`*_path` and `*_codes` keys included).

        Unknown keys are ignored here: the tap and target validate their own. The
        Singer SDK reads JSON fractions as `Decimal`; they count as the numbers they are.
        """
        simple = {
            f.name: _plain_number(config[f.name])
            for f in dataclasses.fields(cls)
            if f.name not in ("paths", "error_codes") and config.get(f.name) is not None
        }
        paths = Paths(
            **{
                name: config[f"{name}_path"]
                for name in (f.name for f in dataclasses.fields(Paths))
                if config.get(f"{name}_path")
            }
        )
        codes = ErrorCodes(
            **{
                name: _codes(config[f"{name}_codes"], f"{name}_codes")
                for name in (f.name for f in dataclasses.fields(ErrorCodes))
                if config.get(f"{name}_codes") is not None
            }
        )
        for required in ("app_id", "app_secret"):
            simple.setdefault(required, "")
        return cls(paths=paths, error_codes=codes, **simple)


def unknown_settings(config: Mapping[str, Any], known: Iterable[str]) -> list[str]:
    """One message per key of `config` that is no setting: a misspelt knob must not be ignored."""
    names = set(known)
    problems = []
    for key in sorted(set(config) - names):
        close = difflib.get_close_matches(key, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        problems.append(f"unknown setting {key!r}{hint}")
    return problems


def _plain_number(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _check_number(name: str, value: Any, *, whole: bool, allow_zero: bool) -> None:
    """Raise `JingConfigError` naming `name` unless `value` is a number in range."""
    kind = int if whole else int | float
    if (
        isinstance(value, bool)
        or not isinstance(value, kind)
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        wanted = "a whole number" if whole else "a number"
        bound = "zero or more" if allow_zero else "above zero"
        raise JingConfigError(f"setting '{name}' must be {wanted} {bound}, got {value!r}")


def _codes(value: Any, name: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise JingConfigError(f"setting '{name}' must be a list of integers") from exc


def _check_base_url(url: str, allow_insecure_http: bool) -> None:
    parsed = urlparse(url or "")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise JingConfigError(f"setting 'base_url' must be an http(s) URL, got {url!r}")
    if parsed.scheme == "http" and not allow_insecure_http and not _is_loopback(parsed.hostname):
        raise JingConfigError(
            "setting 'base_url' uses plain http:// for a non-loopback host; "
            "use https:// or set 'allow_insecure_http' to true"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
