"""The JSON schema of target-jing's settings, as `--about` and Meltano show them.

Validation with messages that name the setting is `settings.TargetSettings`'s
job; this schema is the published list, with a description of each setting.
The client's knobs are read off `jing_client.ClientSettings` itself (names,
types, defaults), so a knob added to the client shows up here without a
second list to keep in step.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from singer_sdk import typing as th

from jing_client import ClientSettings, ErrorCodes, Paths

#: Why each client knob exists; the type and default come from the dataclass.
CLIENT_DESCRIPTIONS: dict[str, str] = {
    "app_id": "The JING app id (a 27-digit string).",
    "app_secret": "The JING app secret. Never logged, never written to the ledger.",
    "base_url": "The API host; the sandbox's URL in tests.",
    "allow_insecure_http": "Allow plain http:// to a host that is not loopback.",
    "page_size_limit": "Largest page the list endpoints accept [contract].",
    "batch_size_limit": "Most users one batch update accepts [contract]; caps `batch_size`.",
    "api_timezone": "IANA zone the API reads and writes its times in [contract].",
    "requests_per_second": "Requests per second this process sends at most (shared by threads).",
    "max_concurrency": "Requests in flight at most.",
    "connect_timeout": "Seconds to wait for a connection.",
    "read_timeout": "Seconds to wait for an answer.",
    "max_attempts": "Attempts per request before a transient error is given up.",
    "max_retry_seconds": "Seconds one request may spend in retries.",
    "backoff_base_seconds": "First backoff wait; doubles per attempt, with jitter.",
    "backoff_max_seconds": "Longest single backoff wait.",
    "token_refresh_margin_seconds": "Refresh the access token this long before it expires.",
    "refresh_token_ttl_seconds": "Lifetime of a refresh token; after it a new token is fetched.",
}

TARGET_PROPERTIES: tuple[th.Property, ...] = (
    th.Property(
        "batch_size",
        th.IntegerType,
        description="Users per update call (default 100, at most `batch_size_limit`).",
    ),
    th.Property(
        "column_mapping",
        th.ObjectType(additional_properties=th.StringType),
        description=(
            'API field -> input column, for example {"omni_user_uuid": "member_id"}. '
            "Unmapped fields accept both default names: activity_id|entity_uuid, "
            "user_id|omni_user_uuid, signin_status|ems_signinstatus, "
            "approve_status|ems_approvestatus, signin_time|ems_signintimestamp, "
            "approve_time|ems_approvetimestamp. Other columns are ignored, never sent."
        ),
    ),
    th.Property(
        "signin_statuses",
        th.ArrayType(th.StringType),
        description='Allowed ems_signinstatus values (default ["0", "1"]).',
    ),
    th.Property(
        "approve_statuses",
        th.ArrayType(th.StringType),
        description='Allowed ems_approvestatus values (default ["0", "1", "2"]).',
    ),
    th.Property(
        "source_timezone",
        th.StringType,
        description="IANA zone naive input times are read in (default UTC).",
    ),
    th.Property(
        "ledger_path",
        th.StringType,
        description=(
            "The ledger DuckDB file (run log, applied state, pending rows). Default: "
            "jing_ledger.duckdb beside the `sync --duckdb` warehouse, else "
            "output/jing_ledger.duckdb."
        ),
    ),
    th.Property(
        "max_failed_ratio",
        th.NumberType,
        description=(
            "Share (0..1) of failed + rejected rows a run may have and still exit 0 (default 0)."
        ),
    ),
    th.Property(
        "streams",
        th.ArrayType(th.StringType),
        description="Singer streams to write back (default: all); others are ignored.",
    ),
    th.Property(
        "progress_interval_seconds",
        th.NumberType,
        description="Seconds between progress lines when stderr is not a terminal (default 5).",
    ),
)


def config_jsonschema() -> dict[str, Any]:
    """Every setting: the client's knobs, its path and code overrides, then the target's."""
    return th.PropertiesList(
        *_client_properties(), *_override_properties(), *TARGET_PROPERTIES
    ).to_dict()


def _client_properties() -> list[th.Property]:
    properties = []
    for knob in dataclasses.fields(ClientSettings):
        if knob.name not in CLIENT_DESCRIPTIONS:
            continue
        default = knob.default if knob.default is not dataclasses.MISSING else None
        description = CLIENT_DESCRIPTIONS[knob.name]
        if default is not None:
            description += f" Default: {default}."
        properties.append(
            th.Property(
                knob.name,
                _json_type(knob.type),
                required=knob.name in ("app_id", "app_secret"),
                secret=knob.name == "app_secret",
                description=description,
            )
        )
    return properties


def _override_properties() -> list[th.Property]:
    """`<name>_path` and `<name>_codes` keys, which follow the real API where it differs."""
    paths = [
        th.Property(
            f"{f.name}_path",
            th.StringType,
            description=f"Path of the {f.name.replace('_', ' ')} endpoint. Default: {f.default}.",
        )
        for f in dataclasses.fields(Paths)
    ]
    codes = [
        th.Property(
            f"{f.name}_codes",
            th.ArrayType(th.IntegerType),
            description=(
                f"API codes read as '{f.name.replace('_', ' ')}'. Default: {list(f.default)}."
            ),
        )
        for f in dataclasses.fields(ErrorCodes)
    ]
    return paths + codes


def _json_type(annotation: object) -> type[th.JSONTypeHelper]:
    """The dataclass annotations are strings (postponed evaluation): map them by name."""
    return {"bool": th.BooleanType, "int": th.IntegerType, "float": th.NumberType}.get(
        str(annotation), th.StringType
    )
