"""TapJing: the settings, their validation, the stream list and the one shared client."""

from __future__ import annotations

import dataclasses
import logging
import sys
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import click
from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError, InvalidStreamSortException
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities

from jing_client import ClientSettings, ErrorCodes, JingClient, JingConfigError, JingError, Paths
from jing_client.settings import unknown_settings
from tap_jing.output import MessageWriter
from tap_jing.streams import ActivitiesStream, ActivityUsersStream, UsersStream
from tap_jing.times import ApiTimes

#: The endpoints the tap calls; each gets a `<name>_path` override setting.
TAP_PATHS = (
    "token",
    "token_refresh",
    "activity_list",
    "activity_detail",
    "activity_user_list",
    "user_list",
)

#: What each `ErrorCodes` class means, for the descriptions of the `<name>_codes` settings.
CODE_MEANINGS = {
    "bad_credentials": "wrong app_id or app_secret (the run stops)",
    "token_invalid": "an invalid access token (renewed, the call repeated once)",
    "token_expired": "an expired access token (refreshed, the call repeated once)",
    "refresh_invalid": "an invalid or expired refresh token (a new token is fetched)",
    "permission": "the app may not call the interface (the run stops)",
    "bad_request": "a refused parameter (not retried)",
    "not_found": "an unknown entity (not retried)",
    "throttled": "throttling (waited out and retried)",
    "transient": "a passing internal error (retried with backoff)",
}


_POSITIVE = th.NumberType(exclusive_minimum=0)
_AT_LEAST_ONE = th.IntegerType(minimum=1)
_NOT_NEGATIVE = th.NumberType(minimum=0)

#: Settings that go to `jing_client.ClientSettings` as they are: JSON type and description.
CLIENT_KNOBS: dict[str, tuple[th.JSONTypeHelper[Any], str]] = {
    "requests_per_second": (
        _POSITIVE,
        "The pace of calls, shared by all streams of a run; the API's limit per app "
        "[contract: 20].",
    ),
    "max_concurrency": (_AT_LEAST_ONE, "The most calls in flight at once [contract: 5 per app]."),
    "connect_timeout": (_POSITIVE, "Seconds to wait for a connection."),
    "read_timeout": (_POSITIVE, "Seconds to wait for an answer."),
    "max_attempts": (
        _AT_LEAST_ONE,
        "Attempts per call on transient faults (429, 5xx, 42900, 50000, timeouts) before "
        "the run stops.",
    ),
    "max_retry_seconds": (_POSITIVE, "The longest time spent retrying one call."),
    "backoff_base_seconds": (
        _NOT_NEGATIVE,
        "First backoff wait; doubles per attempt, with jitter.",
    ),
    "backoff_max_seconds": (_NOT_NEGATIVE, "Longest single backoff wait."),
    "token_refresh_margin_seconds": (
        _NOT_NEGATIVE,
        "Refresh the access token this long before it expires [contract].",
    ),
    "refresh_token_ttl_seconds": (
        _NOT_NEGATIVE,
        "Lifetime of a refresh token (30 days by the API docs); after it a new token is fetched.",
    ),
    "api_timezone": (
        th.StringType(),
        "The IANA zone of the API's time strings [contract]; records carry UTC instants and "
        "updated_start is sent in this zone.",
    ),
    "page_size_limit": (_AT_LEAST_ONE, "The largest page_size the API accepts [contract]."),
}


def _default(name: str) -> Any:
    """The client's default for a setting, so the tap documents the value it really uses."""
    return ClientSettings.__dataclass_fields__[name].default


def _config_schema() -> dict[str, Any]:
    paths, codes = Paths(), ErrorCodes()
    properties = [
        th.Property(
            "app_id",
            th.StringType,
            required=True,
            description="The JING app's id (a 27-digit string), from the JING open platform.",
        ),
        th.Property(
            "app_secret",
            th.StringType,
            required=True,
            secret=True,
            description="The JING app's secret (32 hex characters). Never logged.",
        ),
        th.Property(
            "base_url",
            th.StringType,
            default=_default("base_url"),
            description="The API's root URL: the production host, or a sandbox for tests.",
        ),
        th.Property(
            "allow_insecure_http",
            th.BooleanType,
            default=False,
            description="Allow a plain http:// base_url on a non-loopback host (tokens travel "
            "in clear text).",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="On the first run (no bookmark), read only records updated at or after "
            "this time (ISO 8601; without an offset it is UTC). Later runs start from their "
            "bookmarks.",
        ),
        th.Property(
            "page_size",
            th.IntegerType(minimum=1),
            default=100,
            description="Items per list call; at most page_size_limit (100 by the API contract).",
        ),
        th.Property(
            "activity_ids",
            th.ArrayType(th.StringType(min_length=1)),
            description="Only these activities (entity_uuid) and their registrations; "
            "all activities when unset.",
        ),
        th.Property(
            "include_activity_details",
            th.BooleanType,
            default=False,
            description="Add description and form_fields to each emitted activity, from "
            "/v1/activity/detail (one extra call per activity).",
        ),
        *(
            th.Property(name, kind, default=_default(name), description=description)
            for name, (kind, description) in CLIENT_KNOBS.items()
        ),
        *(
            th.Property(
                f"{name}_path",
                th.StringType,
                default=getattr(paths, name),
                description=f"The path of the {name.replace('_', ' ')} endpoint [contract].",
            )
            for name in TAP_PATHS
        ),
        *(
            th.Property(
                f"{field.name}_codes",
                th.ArrayType(th.IntegerType),
                default=list(getattr(codes, field.name)),
                description=f"API codes that mean {CODE_MEANINGS[field.name]} [contract].",
            )
            for field in dataclasses.fields(ErrorCodes)
        ),
    ]
    return th.PropertiesList(*properties).to_dict()


def settings_problems(config: Mapping[str, Any]) -> list[str]:
    """What is wrong with the settings beyond their JSON types, each naming the setting."""
    try:
        settings = ClientSettings.from_config(config)
    except JingConfigError as error:
        return [str(error)]
    problems = []
    page_size = config.get("page_size", 100)
    if page_size > settings.page_size_limit:
        problems.append(
            f"setting 'page_size' ({page_size}) is above 'page_size_limit' "
            f"({settings.page_size_limit})"
        )
    start_date = config.get("start_date")
    if start_date is not None:
        try:
            datetime.fromisoformat(start_date)
        except (TypeError, ValueError):
            problems.append(f"setting 'start_date' is not an ISO 8601 date-time: {start_date!r}")
    return problems


@contextmanager
def api_errors_end_the_run(logger: logging.Logger) -> Iterator[None]:
    """Turn an error the run cannot get past into one clear line and exit code 1.

    The SDK's command line logs any other exception with its traceback; for a
    refused credential, a missing permission or an API that keeps failing, the
    message (path, HTTP status, code, msg, request_id; never a secret) is the
    whole story.
    """
    try:
        yield
    except (JingError, InvalidStreamSortException) as error:
        logger.error("tap-jing stopped: %s: %s", type(error).__name__, error)
        sys.exit(1)


class TapJing(Tap):
    """Singer tap for the JING marketing cloud Open API: activities, registrations and users."""

    name = "tap-jing"
    package_name = "jing-connectors"
    config_jsonschema = _config_schema()
    message_writer_class = MessageWriter
    capabilities = [
        TapCapabilities.CATALOG,
        TapCapabilities.DISCOVER,
        TapCapabilities.STATE,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.BATCH,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    def discover_streams(self) -> list[Stream]:
        return [ActivitiesStream(self), ActivityUsersStream(self), UsersStream(self)]

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's JSON-schema checks, then unknown keys, then the client's own checks."""
        errors = super()._validate_config(raise_errors=raise_errors)
        if errors:
            return errors
        known = self.config_jsonschema["properties"]  # the SDK's built-in settings included
        errors = unknown_settings(self._config, known) + settings_problems(self._config)
        if errors and raise_errors:
            raise ConfigValidationError(
                "Config validation failed", errors=errors, schema=self.config_jsonschema
            )
        return errors

    @cached_property
    def client_settings(self) -> ClientSettings:
        return ClientSettings.from_config(self.config)

    @cached_property
    def api_zone(self) -> ZoneInfo:
        return ZoneInfo(self.client_settings.api_timezone)

    @cached_property
    def api_times(self) -> ApiTimes:
        """The run's one converter of API times, so every stream shares what it remembers."""
        return ApiTimes(self.api_zone)

    @cached_property
    def client(self) -> JingClient:
        """The run's one client: every stream shares its pace, concurrency cap and token."""
        client = JingClient(self.client_settings)
        weakref.finalize(self, client.close)
        return client

    @classmethod
    def invoke(cls, **kwargs: Any) -> None:  # type: ignore[override]
        with api_errors_end_the_run(cls.logger):
            super().invoke(**kwargs)

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """Read `--config` like the SDK; a missing or broken file is one line, not a traceback."""
        try:
            return super().cb_config(ctx, param, value)
        except (OSError, ValueError) as error:
            cls.logger.error("Bad config: cannot read --config: %s", error)
            sys.exit(1)

    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        with api_errors_end_the_run(cls.logger):
            super().cb_test(ctx, param, value)


if __name__ == "__main__":
    TapJing.cli()
