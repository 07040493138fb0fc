"""Every setting of the JING client, declared once, and the typed `ClientSettings`.

Each value tagged [contract] in the API reference is a setting here, so that a
user can follow the real API where it differs from our assumptions without a
code change. Both connectors publish `CLIENT_SETTINGS` as their own (the ones
that act on them, see `Setting.plugins`), and build a `ClientSettings` from their
flat Singer config with `ClientSettings.from_config`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jing_client.declarations import TARGET, Declarations, Setting
from jing_client.errors import JingConfigError

PRODUCTION_BASE_URL = "https://jingopenapi.jingsocial.com"

#: Endpoint: (default path, the plugins that call it). [contract, except the batch
#: update and the refresh, which are doc]
_PATHS: dict[str, tuple[str, frozenset[str] | None]] = {
    "token": ("/v1/oauth2/token", None),
    "token_refresh": ("/v1/oauth2/token/refresh", None),
    "activity_list": ("/v1/activity/list", None),
    "activity_detail": ("/v1/activity/detail", None),
    "activity_user_list": ("/v1/activity/user/list", None),
    "user_status_batch": ("/v1/activity/update/userStatus/batch", frozenset({TARGET})),
    "user_list": ("/v1/user/list", None),
}

#: Error class: (default API codes, what they mean and what the client does). [contract]
_CODES: dict[str, tuple[tuple[int, ...], str]] = {
    "bad_credentials": ((40001,), "wrong app_id or app_secret (the run stops)"),
    "token_invalid": ((40002,), "an invalid access token (renewed, the call repeated once)"),
    "token_expired": ((40003,), "an expired access token (refreshed, the call repeated once)"),
    "refresh_invalid": ((40004,), "an invalid or expired refresh token (a new token is fetched)"),
    "permission": ((40300,), "the app may not call the interface (the run stops)"),
    "bad_request": ((40010, 40013), "a refused parameter (not retried)"),
    "not_found": ((40400,), "an unknown entity (not retried)"),
    "throttled": ((42900,), "throttling (waited out and retried)"),
    "transient": ((50000,), "a passing internal error (retried with backoff)"),
}


def _path_setting(name: str, default: str, plugins: frozenset[str] | None) -> Setting:
    extra = {"plugins": plugins} if plugins else {}
    return Setting(
        f"{name}_path",
        "string",
        f"The path of the {name.replace('_', ' ')} endpoint [contract].",
        default=default,
        extra_schema={"pattern": "^/"},
        rule="a path that starts with '/'",
        **extra,
    )


def _codes_setting(name: str, default: tuple[int, ...], meaning: str) -> Setting:
    return Setting(
        f"{name}_codes",
        "array",
        f"API codes that mean {meaning} [contract].",
        default=default,
        items="integer",
        # Codes written as text ("42900") are read as the numbers they are.
        extra_schema={"items": {"type": ["integer", "string"], "pattern": "^[0-9]+$"}},
    )


#: The client's settings, shared by tap-jing and target-jing.
CLIENT_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "app_id",
        "string",
        "The JING app's id (a 27-digit string), from the JING open platform.",
        required=True,
        credential=True,
        # It goes in every call's headers, which cannot carry a space or a line break.
        extra_schema={"minLength": 1, "pattern": "^[!-~]+$"},
        rule="printable ASCII without spaces, as an app id is",
    ),
    Setting(
        "app_secret",
        "string",
        "The JING app's secret (32 hex characters). Never logged, never written anywhere.",
        required=True,
        secret=True,
        extra_schema={"minLength": 1},
    ),
    Setting(
        "base_url",
        "string",
        "The API's root URL: the production host, or a sandbox for tests.",
        default=PRODUCTION_BASE_URL,
    ),
    Setting(
        "allow_insecure_http",
        "boolean",
        "Allow a plain http:// base_url on a host that is not loopback (tokens and the "
        "secret travel in clear text).",
        default=False,
    ),
    Setting(
        "requests_per_second",
        "number",
        "The pace of calls, shared by every thread and stream of a run; the API's limit "
        "per app [contract: 20].",
        default=20.0,
        exclusive_minimum=0,
    ),
    Setting(
        "max_concurrency",
        "integer",
        "The most calls in flight at once [contract: 5 per app].",
        default=5,
        minimum=1,
    ),
    Setting(
        "connect_timeout",
        "number",
        "Seconds to wait for a connection.",
        default=10.0,
        exclusive_minimum=0,
    ),
    Setting(
        "read_timeout",
        "number",
        "Seconds to wait for an answer.",
        default=60.0,
        exclusive_minimum=0,
    ),
    Setting(
        "max_attempts",
        "integer",
        "Attempts per call on transient faults (429, 5xx, 42900, 50000, timeouts) before "
        "the call is given up.",
        default=8,
        minimum=1,
    ),
    Setting(
        "max_retry_seconds",
        "number",
        "The longest time spent retrying one call.",
        default=300.0,
        exclusive_minimum=0,
    ),
    Setting(
        "max_retry_after_seconds",
        "number",
        "The longest wait a throttling answer's Retry-After may impose (at most "
        "max_retry_seconds). A longer one is not waited for: that call fails as retryable, "
        "and no call is made until the server's wait is over (the target leaves those rows "
        "pending).",
        default=300.0,
        minimum=0,
    ),
    Setting(
        "backoff_base_seconds",
        "number",
        "First backoff wait; doubles per attempt, with jitter.",
        default=0.5,
        minimum=0,
    ),
    Setting(
        "backoff_max_seconds",
        "number",
        "Longest single backoff wait.",
        default=30.0,
        minimum=0,
    ),
    Setting(
        "token_refresh_margin_seconds",
        "number",
        "Refresh the access token this long before it expires [contract].",
        default=300.0,
        minimum=0,
    ),
    Setting(
        "refresh_token_ttl_seconds",
        "number",
        "Lifetime of a refresh token (30 days by the API docs); after it a new token is fetched.",
        default=30 * 24 * 3600.0,
        minimum=0,
    ),
    Setting(
        "api_timezone",
        "string",
        "The IANA zone of the API's time strings [contract]. Records carry UTC instants; "
        "times sent to the API are written in this zone.",
        default="Asia/Shanghai",
    ),
    Setting(
        "page_size_limit",
        "integer",
        "The largest page_size the list endpoints accept [contract].",
        default=100,
        minimum=1,
    ),
    Setting(
        "batch_size_limit",
        "integer",
        "The most users one batch status update accepts [contract]; caps batch_size.",
        default=100,
        minimum=1,
        plugins=frozenset({TARGET}),
    ),
    *(_path_setting(name, default, plugins) for name, (default, plugins) in _PATHS.items()),
    *(_codes_setting(name, default, meaning) for name, (default, meaning) in _CODES.items()),
)

#: All of the client's settings, whichever plugin they act on.
CLIENT = Declarations(None, CLIENT_SETTINGS)


def _default(name: str) -> Any:
    return CLIENT.default(name)


@dataclass(frozen=True)
class ErrorCodes:
    """How API `code` values map to error classes [contract]."""

    bad_credentials: tuple[int, ...] = _CODES["bad_credentials"][0]
    token_invalid: tuple[int, ...] = _CODES["token_invalid"][0]
    token_expired: tuple[int, ...] = _CODES["token_expired"][0]
    refresh_invalid: tuple[int, ...] = _CODES["refresh_invalid"][0]
    permission: tuple[int, ...] = _CODES["permission"][0]
    bad_request: tuple[int, ...] = _CODES["bad_request"][0]
    not_found: tuple[int, ...] = _CODES["not_found"][0]
    throttled: tuple[int, ...] = _CODES["throttled"][0]
    transient: tuple[int, ...] = _CODES["transient"][0]


@dataclass(frozen=True)
class Paths:
    """Endpoint paths [contract, except the batch update and refresh, which are doc]."""

    token: str = _PATHS["token"][0]
    token_refresh: str = _PATHS["token_refresh"][0]
    activity_list: str = _PATHS["activity_list"][0]
    activity_detail: str = _PATHS["activity_detail"][0]
    activity_user_list: str = _PATHS["activity_user_list"][0]
    user_status_batch: str = _PATHS["user_status_batch"][0]
    user_list: str = _PATHS["user_list"][0]


@dataclass(frozen=True)
class ClientSettings:
    """Connection, limits and API assumptions for one JING app (defaults: the declarations)."""

    app_id: str
    app_secret: str = field(repr=False)
    base_url: str = _default("base_url")
    allow_insecure_http: bool = _default("allow_insecure_http")
    paths: Paths = field(default_factory=Paths)
    error_codes: ErrorCodes = field(default_factory=ErrorCodes)
    page_size_limit: int = _default("page_size_limit")
    batch_size_limit: int = _default("batch_size_limit")
    api_timezone: str = _default("api_timezone")
    requests_per_second: float = _default("requests_per_second")
    max_concurrency: int = _default("max_concurrency")
    connect_timeout: float = _default("connect_timeout")
    read_timeout: float = _default("read_timeout")
    max_attempts: int = _default("max_attempts")
    max_retry_seconds: float = _default("max_retry_seconds")
    max_retry_after_seconds: float = _default("max_retry_after_seconds")
    backoff_base_seconds: float = _default("backoff_base_seconds")
    backoff_max_seconds: float = _default("backoff_max_seconds")
    token_refresh_margin_seconds: float = _default("token_refresh_margin_seconds")
    refresh_token_ttl_seconds: float = _default("refresh_token_ttl_seconds")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise `JingConfigError` naming the first bad setting.

        Each value is checked against its declaration; the code here adds only the
        checks JSON schema cannot make (a URL's host, a zone's existence).
        """
        problems = CLIENT.problems(self.as_config(), unknown=False)
        if problems:
            raise JingConfigError(problems[0])
        check_base_url(self.base_url, self.allow_insecure_http)
        try:
            ZoneInfo(self.api_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise JingConfigError(
                f"setting 'api_timezone' is not a known IANA zone: {self.api_timezone!r}"
            ) from exc

    def as_config(self) -> dict[str, Any]:
        """These settings as the flat config they were read from."""
        simple = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("paths", "error_codes")
        }
        paths = {f"{k}_path": v for k, v in dataclasses.asdict(self.paths).items()}
        codes = {f"{k}_codes": list(v) for k, v in dataclasses.asdict(self.error_codes).items()}
        return {**simple, **paths, **codes}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ClientSettings:
        """Build settings from a flat Singer config (`*_path` and `*_codes` keys included).

        Keys that are not the client's are ignored here: each connector checks its
        own list. A value the declarations refuse raises `JingConfigError`.
        """
        own = {k: v for k, v in config.items() if k in CLIENT}
        problems = CLIENT.problems(own, unknown=False)
        if problems:
            raise JingConfigError(problems[0])
        values = CLIENT.with_defaults(own)
        simple = {
            f.name: values[f.name]
            for f in dataclasses.fields(cls)
            if f.name not in ("paths", "error_codes")
        }
        paths = Paths(**{name: values[f"{name}_path"] for name in _PATHS})
        codes = ErrorCodes(
            **{name: tuple(int(c) for c in values[f"{name}_codes"]) for name in _CODES}
        )
        return cls(paths=paths, error_codes=codes, **simple)


#: Characters that no base URL needs and that parsers read differently (userinfo, a
#: backslash some read as a slash, whitespace and control characters).
_REFUSED_IN_URL = frozenset("@\\ \t\r\n") | {chr(n) for n in range(32)} | {chr(127)}


def check_base_url(url: str, allow_insecure_http: bool) -> None:
    """Refuse a `base_url` that could send the credentials anywhere but where it says.

    It is read with the standard library's parser, the one the transport connects
    with. A URL with userinfo, a backslash or whitespace is refused outright:
    `http://evil.example\\@127.0.0.1` looks like loopback to one parser and connects
    to evil.example with another (requests' and other tools' among them). Plain http is
    allowed to a loopback host only, unless `allow_insecure_http`.
    """
    refused = sorted({repr(c) for c in url if c in _REFUSED_IN_URL})
    if refused:
        raise JingConfigError(
            f"setting 'base_url' must be a plain http(s) URL, without userinfo, backslashes "
            f"or spaces; it holds {', '.join(refused)}"
        )
    if not url.isascii():
        raise JingConfigError(
            "setting 'base_url' must be plain ASCII: write an international host name in "
            "its xn-- form"
        )
    try:
        read = urlsplit(url)
        read.port  # noqa: B018 - a port that is not a number in range raises here
    except ValueError:
        raise JingConfigError(f"setting 'base_url' is not a URL: {url!r}") from None
    scheme, host = read.scheme.lower(), (read.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        raise JingConfigError(f"setting 'base_url' must be an http(s) URL, got {url!r}")
    if read.query or read.fragment or "?" in url or "#" in url:
        raise JingConfigError("setting 'base_url' must have no query or fragment")
    if scheme == "http" and not allow_insecure_http and not _is_loopback(host):
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
