"""Every setting of target-jing, validated in one place.

The Singer target, the `sync` command and the DataFrame function all build a
`TargetSettings` from the same flat config, so a bad value gets the same message
(naming the setting) wherever it comes from. Connection and API knobs are the
client's own (`jing_client.ClientSettings`, same key names); this module adds
what the write-back needs: batch size, column mapping, allowed statuses, time
zones, where the ledger lives and when a run counts as failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jing_client import ClientSettings, JingConfigError

#: The API's status fields, the values they carry and their timestamps (jing-api.md 6.4).
STATUS_FIELDS: tuple[str, ...] = ("ems_signinstatus", "ems_approvestatus")
TIME_FIELDS: tuple[str, ...] = ("ems_signintimestamp", "ems_approvetimestamp")
WANTED_FIELDS: tuple[str, ...] = STATUS_FIELDS + TIME_FIELDS
KEY_FIELDS: tuple[str, ...] = ("entity_uuid", "omni_user_uuid")
API_FIELDS: tuple[str, ...] = KEY_FIELDS + WANTED_FIELDS

#: Input column names accepted for each API field when `column_mapping` does not say.
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "entity_uuid": ("activity_id", "entity_uuid"),
    "omni_user_uuid": ("user_id", "omni_user_uuid"),
    "ems_signinstatus": ("signin_status", "ems_signinstatus"),
    "ems_approvestatus": ("approve_status", "ems_approvestatus"),
    "ems_signintimestamp": ("signin_time", "ems_signintimestamp"),
    "ems_approvetimestamp": ("approve_time", "ems_approvetimestamp"),
}

DEFAULT_LEDGER_NAME = "jing_ledger.duckdb"


@dataclass(frozen=True)
class TargetSettings:
    """What one write-back run needs to know, on top of the client's settings."""

    client: ClientSettings
    #: Users per update call; the API takes at most `batch_size_limit` [contract].
    batch_size: int = 100
    #: API field -> the input columns that may hold it, first present wins.
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_COLUMNS))
    #: Allowed values of ems_signinstatus / ems_approvestatus [contract, 6.4].
    signin_statuses: tuple[str, ...] = ("0", "1")
    approve_statuses: tuple[str, ...] = ("0", "1", "2")
    #: The zone naive warehouse times are read in.
    source_timezone: str = "UTC"
    #: The DuckDB file that holds the run log, the applied state and the pending rows.
    ledger_path: Path = Path("output") / DEFAULT_LEDGER_NAME
    #: Share of failed + rejected rows a run may have and still succeed.
    max_failed_ratio: float = 0.0
    #: Singer streams to take (None: every stream).
    streams: tuple[str, ...] | None = None
    progress_interval_seconds: float = 5.0

    @property
    def api_timezone(self) -> str:
        """The API's zone is a client setting: the tap reads times in the same one."""
        return self.client.api_timezone

    @property
    def max_concurrency(self) -> int:
        return self.client.max_concurrency

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], *, warehouse_path: str | Path | None = None
    ) -> TargetSettings:
        """Validate a flat Singer config; raise `JingConfigError` naming the bad setting.

        `warehouse_path` is the DuckDB file rows are read from (`sync --duckdb W`):
        without a `ledger_path` setting the ledger sits beside it, where users query it.
        """
        client = ClientSettings.from_config(config)
        batch_size = _positive_int(config, "batch_size", 100)
        if batch_size > client.batch_size_limit:
            raise JingConfigError(
                f"setting 'batch_size' ({batch_size}) is above 'batch_size_limit' "
                f"({client.batch_size_limit})"
            )
        return cls(
            client=client,
            batch_size=batch_size,
            columns=_columns(config.get("column_mapping")),
            signin_statuses=_statuses(config, "signin_statuses", ("0", "1")),
            approve_statuses=_statuses(config, "approve_statuses", ("0", "1", "2")),
            source_timezone=_zone(config, "source_timezone", "UTC"),
            ledger_path=_ledger_path(config.get("ledger_path"), warehouse_path),
            max_failed_ratio=_ratio(config, "max_failed_ratio"),
            streams=_streams(config.get("streams")),
            progress_interval_seconds=_positive_number(config, "progress_interval_seconds", 5.0),
        )


def _positive_int(config: Mapping[str, Any], name: str, default: int) -> int:
    value = config.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise JingConfigError(f"setting '{name}' must be a positive integer, got {value!r}")
    return value


def _positive_number(config: Mapping[str, Any], name: str, default: float) -> float:
    value = config.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise JingConfigError(f"setting '{name}' must be a positive number, got {value!r}")
    return float(value)


def _ratio(config: Mapping[str, Any], name: str) -> float:
    value = config.get(name)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise JingConfigError(f"setting '{name}' must be a number from 0 to 1, got {value!r}")
    return float(value)


def _columns(mapping: Any) -> dict[str, tuple[str, ...]]:
    """Start from the default names; a mapped field takes exactly the named column."""
    columns = dict(DEFAULT_COLUMNS)
    if mapping is None:
        return columns
    if not isinstance(mapping, Mapping):
        raise JingConfigError("setting 'column_mapping' must be an object: API field -> column")
    for api_field, column in mapping.items():
        if api_field not in columns:
            raise JingConfigError(
                f"setting 'column_mapping' names unknown API field {api_field!r}; "
                f"known: {', '.join(API_FIELDS)}"
            )
        if not isinstance(column, str) or not column:
            raise JingConfigError(
                f"setting 'column_mapping.{api_field}' must be a column name, got {column!r}"
            )
        columns[api_field] = (column,)
    return columns


def _statuses(config: Mapping[str, Any], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = config.get(name)
    if value is None:
        return default
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise JingConfigError(f"setting '{name}' must be a non-empty list of strings")
    if not all(isinstance(v, str) and v for v in value):
        raise JingConfigError(f"setting '{name}' must hold non-empty strings, got {value!r}")
    return tuple(value)


def _zone(config: Mapping[str, Any], name: str, default: str) -> str:
    value = config.get(name) or default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise JingConfigError(f"setting '{name}' is not a known IANA zone: {value!r}") from exc
    return value


def _ledger_path(value: Any, warehouse_path: str | Path | None) -> Path:
    if value is not None:
        if not isinstance(value, str) or not value:
            raise JingConfigError(f"setting 'ledger_path' must be a file path, got {value!r}")
        return Path(value)
    if warehouse_path is not None:
        return Path(warehouse_path).parent / DEFAULT_LEDGER_NAME
    return Path("output") / DEFAULT_LEDGER_NAME


def _streams(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise JingConfigError("setting 'streams' must be a list of stream names")
    if not all(isinstance(v, str) and v for v in value):
        raise JingConfigError(f"setting 'streams' must hold stream names, got {value!r}")
    return tuple(value)
