"""Every setting of target-jing, declared once, and the typed `TargetSettings`.

The Singer target, the `sync` command and the DataFrame function all build a
`TargetSettings` from the same flat config, so a bad value gets the same message
(naming the setting) wherever it comes from. Connection and API settings are the
client's own (`jing_client.settings.CLIENT_SETTINGS`, same names); this module
adds what the write-back needs: batch size, column mapping, allowed statuses,
time zones, where the ledger lives and when a run counts as failed.
`TARGET_DECLARATIONS` is the one list that the SDK's schema (so `--about`), the
validation, meltano.yml and the README table come from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jing_client import ClientSettings, JingConfigError
from jing_client.declarations import TARGET, Declarations, Setting
from jing_client.settings import CLIENT_SETTINGS
from target_jing.ledger_home import LedgerHome

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
DEFAULT_LEDGER_SCHEMA = "jing_sync"


@dataclass(frozen=True)
class PendingLimits:
    """When a retryable row stops being retried on its own (`given_up`)."""

    max_attempts: int
    max_age_hours: float


#: The names each field is read from by default, as the description shows them.
_DEFAULT_NAMES = ", ".join("|".join(names) for names in DEFAULT_COLUMNS.values())


def _statuses_setting(name: str, api_field: str, default: tuple[str, ...]) -> Setting:
    """The allowed values of one status field [contract, jing-api.md 6.4]."""
    return Setting(
        name,
        "array",
        f"Allowed {api_field} values [contract].",
        default=default,
        extra_schema={"items": {"type": "string", "minLength": 1}, "minItems": 1},
        rule="a non-empty list of non-empty strings",
    )


TARGET_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "batch_size",
        "integer",
        "Users per update call; at most batch_size_limit.",
        default=100,
        minimum=1,
    ),
    Setting(
        "column_mapping",
        "object",
        'API field -> input column, for example {"omni_user_uuid": "member_id"}. Unmapped '
        f"fields accept both default names: {_DEFAULT_NAMES}. Other columns are ignored, "
        "never sent.",
        extra_schema={"additionalProperties": {"type": "string", "minLength": 1}},
        rule="an object of API field -> column name",
    ),
    _statuses_setting("signin_statuses", "ems_signinstatus", ("0", "1")),
    _statuses_setting("approve_statuses", "ems_approvestatus", ("0", "1", "2")),
    Setting(
        "source_timezone",
        "string",
        "The IANA zone that input times without an offset are read in.",
        default="UTC",
    ),
    Setting(
        "ledger_path",
        "string",
        "The ledger's DuckDB file (run log, applied state, pending rows). When unset: "
        f"{DEFAULT_LEDGER_NAME} beside the `sync --duckdb` warehouse, else "
        f"output/{DEFAULT_LEDGER_NAME}.",
        extra_schema={"minLength": 1},
        rule="a file path",
    ),
    Setting(
        "ledger_url",
        "string",
        "The ledger in PostgreSQL instead of a DuckDB file: postgresql://user:password@host/db "
        "(needs the postgres extra). The shards of one write-back may then run at once. Not "
        "with ledger_path.",
        secret=True,
        extra_schema={"minLength": 1},
        rule="a postgresql:// URL or a libpq connection string",
    ),
    Setting(
        "ledger_schema",
        "string",
        "The PostgreSQL schema of the ledger's tables (created when missing), with ledger_url.",
        default=DEFAULT_LEDGER_SCHEMA,
        extra_schema={"pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "maxLength": 63},
        rule="a PostgreSQL name: letters, digits and _, not starting with a digit",
    ),
    Setting(
        "ledger_lock_wait_seconds",
        "number",
        "With ledger_url: seconds a run waits for another run of its destination and shard "
        "to end before it stops (exit 2).",
        default=15.0,
        minimum=0,
    ),
    Setting(
        "max_failed_ratio",
        "number",
        "The share (0 to 1) of failed and rejected rows a run may have and still exit 0.",
        default=0.0,
        minimum=0,
        maximum=1,
    ),
    Setting(
        "streams",
        "array",
        "The Singer streams to write back (all when unset); others are ignored.",
        extra_schema={"items": {"type": "string", "minLength": 1}},
        rule="a list of stream names",
    ),
    Setting(
        "observed_state",
        "string",
        "What JING holds, as tap-jing's activity_users stream loads it: a table or view "
        "(raw.activity_users) or a SELECT of the same columns, in the warehouse of "
        "observed_state_path. Newer than a ledger confirmation, it wins: a row JING holds is "
        "unchanged, one changed in JING since is sent again. No extra calls.",
        extra_schema={"minLength": 1},
        rule="a table, view or SELECT query",
    ),
    Setting(
        "observed_state_path",
        "string",
        "The DuckDB file, or the PostgreSQL database (postgresql://...), that observed_state "
        "is read from (default: the `sync --duckdb` warehouse, or the `sync --postgres` one).",
        extra_schema={"minLength": 1},
        rule="a file path or a PostgreSQL URL",
    ),
    Setting(
        "read_back",
        "boolean",
        "Read the registered users of the input's activities from the API before planning "
        "(one list call per 100 registrations), and again for a chunk whose answer was lost, "
        "to settle it without a blind resend.",
        default=False,
    ),
    Setting(
        "shards_share_budget",
        "boolean",
        "With `sync --shard K/N`: each shard takes 1/N of requests_per_second and of "
        "max_concurrency, so that N shards at once stay within the API's limits.",
        default=True,
    ),
    Setting(
        "pending_max_attempts",
        "integer",
        "Runs that retry a pending row (one whose failure may pass) before it is given up.",
        default=10,
        minimum=1,
    ),
    Setting(
        "pending_max_age_hours",
        "number",
        "Hours a pending row is retried, from the first run that wanted it, before it is given up.",
        default=168.0,
        exclusive_minimum=0,
    ),
    Setting(
        "progress_interval_seconds",
        "number",
        "Seconds between progress lines when stderr is not a terminal.",
        default=5.0,
        exclusive_minimum=0,
    ),
)

#: The client's settings first, then the write-back's own.
TARGET_DECLARATIONS = Declarations(TARGET, (*CLIENT_SETTINGS, *TARGET_SETTINGS))

_DEFAULTS = TARGET_DECLARATIONS.with_defaults({})


@dataclass(frozen=True)
class TargetSettings:
    """What one write-back run needs to know, on top of the client's settings."""

    client: ClientSettings
    #: Users per update call; the API takes at most `batch_size_limit` [contract].
    batch_size: int = _DEFAULTS["batch_size"]
    #: API field -> the input columns that may hold it, first present wins.
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_COLUMNS))
    #: The fields the setting `column_mapping` names, and their column (which must exist).
    column_mapping: Mapping[str, str] = field(default_factory=dict)
    #: Allowed values of ems_signinstatus / ems_approvestatus [contract, 6.4].
    signin_statuses: tuple[str, ...] = tuple(_DEFAULTS["signin_statuses"])
    approve_statuses: tuple[str, ...] = tuple(_DEFAULTS["approve_statuses"])
    #: The zone naive warehouse times are read in.
    source_timezone: str = _DEFAULTS["source_timezone"]
    #: The DuckDB file that holds the run log, the applied state and the pending rows.
    ledger_path: Path = Path("output") / DEFAULT_LEDGER_NAME
    #: The ledger's PostgreSQL database instead (its password is a secret), and schema.
    ledger_url: str | None = field(default=None, repr=False)
    ledger_schema: str = DEFAULT_LEDGER_SCHEMA
    ledger_lock_wait_seconds: float = _DEFAULTS["ledger_lock_wait_seconds"]
    #: Share of failed + rejected rows a run may have and still succeed.
    max_failed_ratio: float = _DEFAULTS["max_failed_ratio"]
    #: Singer streams to take (None: every stream).
    streams: tuple[str, ...] | None = None
    progress_interval_seconds: float = _DEFAULTS["progress_interval_seconds"]
    #: What JING holds, from the warehouse (tap-jing's activity_users shape), and where.
    observed_state: str | None = None
    #: A DuckDB file's path, or a PostgreSQL URL (not a `Path`: that would fold its `//`).
    observed_state_path: str | None = None
    read_back: bool = _DEFAULTS["read_back"]
    shards_share_budget: bool = _DEFAULTS["shards_share_budget"]
    pending_limits: PendingLimits = PendingLimits(
        _DEFAULTS["pending_max_attempts"], _DEFAULTS["pending_max_age_hours"]
    )

    @property
    def api_timezone(self) -> str:
        """The API's zone is a client setting: the tap reads times in the same one."""
        return self.client.api_timezone

    @property
    def max_concurrency(self) -> int:
        return self.client.max_concurrency

    @property
    def ledger_home(self) -> LedgerHome:
        """Where the ledger is: the PostgreSQL schema of `ledger_url`, else `ledger_path`."""
        if self.ledger_url is not None:
            return LedgerHome(
                url=self.ledger_url,
                schema=self.ledger_schema,
                lock_wait_seconds=self.ledger_lock_wait_seconds,
            )
        return LedgerHome(path=self.ledger_path)

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        *,
        warehouse_path: str | Path | None = None,
        warehouse_url: str | None = None,
        known: tuple[str, ...] = (),
    ) -> TargetSettings:
        """Validate a flat config; raise `JingConfigError` naming the bad setting.

        `warehouse_path` is the DuckDB file rows are read from (`sync --duckdb W`):
        without a `ledger_path` setting the ledger sits beside it, where users query
        it. `warehouse_url` is the PostgreSQL database of `sync --postgres URL`. Either
        is where `observed_state` is read without `observed_state_path`. `known` names
        settings that are not declared here but are not mistakes either (the Singer
        SDK's built-in ones).
        """
        problems = TARGET_DECLARATIONS.problems(config, known=known)
        if problems:
            raise JingConfigError(problems[0])
        values = TARGET_DECLARATIONS.with_defaults(config)
        client = ClientSettings.from_config(values)
        if values["batch_size"] > client.batch_size_limit:
            raise JingConfigError(
                f"setting 'batch_size' ({values['batch_size']}) is above 'batch_size_limit' "
                f"({client.batch_size_limit})"
            )
        if values.get("ledger_path") is not None and values.get("ledger_url") is not None:
            raise JingConfigError(
                "settings 'ledger_path' and 'ledger_url' cannot both be set: the ledger is "
                "either a DuckDB file or a PostgreSQL schema; unset one of them"
            )
        streams = values.get("streams")
        observed_path = values.get("observed_state_path") or warehouse_path or warehouse_url
        if values.get("observed_state") and observed_path is None:
            raise JingConfigError(
                "setting 'observed_state' needs 'observed_state_path' (the DuckDB file or "
                "PostgreSQL database it is in), unless rows come from `sync --duckdb` or "
                "`sync --postgres`"
            )
        return cls(
            client=client,
            batch_size=values["batch_size"],
            columns=_columns(values.get("column_mapping")),
            column_mapping=dict(values.get("column_mapping") or {}),
            signin_statuses=tuple(values["signin_statuses"]),
            approve_statuses=tuple(values["approve_statuses"]),
            source_timezone=_zone(values["source_timezone"]),
            ledger_path=_ledger_path(values.get("ledger_path"), warehouse_path),
            ledger_url=values.get("ledger_url"),
            ledger_schema=values["ledger_schema"],
            ledger_lock_wait_seconds=float(values["ledger_lock_wait_seconds"]),
            max_failed_ratio=float(values["max_failed_ratio"]),
            streams=None if streams is None else tuple(streams),
            progress_interval_seconds=float(values["progress_interval_seconds"]),
            observed_state=values.get("observed_state"),
            observed_state_path=None if observed_path is None else str(observed_path),
            read_back=values["read_back"],
            shards_share_budget=values["shards_share_budget"],
            pending_limits=PendingLimits(
                values["pending_max_attempts"], float(values["pending_max_age_hours"])
            ),
        )


def _columns(mapping: Mapping[str, str] | None) -> dict[str, tuple[str, ...]]:
    """Start from the default names; a mapped field takes exactly the named column."""
    columns = dict(DEFAULT_COLUMNS)
    for api_field, column in (mapping or {}).items():
        if api_field not in columns:
            raise JingConfigError(
                f"setting 'column_mapping' names unknown API field {api_field!r}; "
                f"known: {', '.join(API_FIELDS)}"
            )
        columns[api_field] = (column,)
    return columns


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise JingConfigError(
            f"setting 'source_timezone' is not a known IANA zone: {value!r}"
        ) from exc
    return value


def _ledger_path(value: str | None, warehouse_path: str | Path | None) -> Path:
    if value is not None:
        return Path(value)
    if warehouse_path is not None:
        return Path(warehouse_path).parent / DEFAULT_LEDGER_NAME
    return Path("output") / DEFAULT_LEDGER_NAME


#: The Singer SDK's built-in target settings that target-jing honours: the sink's
#: batch size, stream maps and flattening (`TargetJing.append_builtin_config`). They
#: are no mistake in a config that `target-jing sync` reads either.
SDK_BUILTIN_SETTINGS: tuple[str, ...] = (
    "batch_size_rows",
    "stream_maps",
    "stream_map_config",
    "faker_config",
    "flattening_enabled",
    "flattening_max_depth",
    "flattening_max_key_length",
    "flattening_separator",
)
