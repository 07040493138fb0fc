"""TapJing: the stream list, the one shared client, and the tap's process shell.

The settings are declared in `tap_jing.settings`; the SDK's private hooks the
tap needs are in `tap_jing.sdk_private` and `jing_singer.sdk_private`.
"""

from __future__ import annotations

import copy
import logging
import os
import sys
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import click
from singer_sdk import Stream, Tap
from singer_sdk.exceptions import ConfigValidationError, InvalidStreamSortException
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities

from jing_client import ClientSettings, JingClient, JingConfigError, JingError
from jing_client.redact import redact
from jing_client.times import ApiTimes
from jing_singer import exit_codes
from jing_singer.config_input import read_config
from jing_singer.sdk_private import DeclaredConfig, config_input
from tap_jing.input_files import checked_catalog, checked_state
from tap_jing.output import MessageWriter
from tap_jing.sdk_private import skip_selection_walk_when_all_selected
from tap_jing.settings import TAP_DECLARATIONS, cross_setting_problems
from tap_jing.streams import ActivitiesStream, ActivityUsersStream, UsersStream


@contextmanager
def errors_end_the_run(logger: logging.Logger) -> Iterator[None]:
    """Turn an error the run cannot get past into one clear line and its exit code.

    The SDK's command line logs any other exception with its traceback; for a bad
    setting, a refused credential, a missing permission or an API that keeps
    failing, the message (path, HTTP status, code, msg, request_id; never a
    secret) is the whole story. The codes are the target's (`jing_singer.exit_codes`).
    """
    try:
        yield
    except ConfigValidationError as error:
        for problem in error.errors:
            logger.error("Bad config: %s", redact(problem))
        logger.error("Config validation failed")
        sys.exit(exit_codes.BAD_INPUT)
    except JingConfigError as error:
        logger.error("Bad config: %s", redact(str(error)))
        sys.exit(exit_codes.BAD_INPUT)
    except (JingError, InvalidStreamSortException) as error:
        logger.error("tap-jing stopped: %s: %s", type(error).__name__, redact(str(error)))
        sys.exit(exit_codes.for_error(error))
    except BrokenPipeError:
        # The reader left (the target stopped): nothing more can be written, not even
        # at exit, and the next run resumes from the last STATE that reached it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        logger.error(
            "tap-jing stopped: its output was closed (the target stopped reading); the next "
            "run resumes from the last STATE the target received"
        )
        sys.exit(exit_codes.ROWS_FAILED)


class TapJing(DeclaredConfig, Tap):
    """Singer tap for the JING marketing cloud Open API: activities, registrations and users."""

    name = "tap-jing"
    package_name = "jing-connectors"
    declarations = TAP_DECLARATIONS
    config_jsonschema = TAP_DECLARATIONS.json_schema()
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
        skip_selection_walk_when_all_selected()
        return [ActivitiesStream(self), ActivityUsersStream(self), UsersStream(self)]

    def sync_all(self) -> None:
        """Sync every selected stream, then log one summary line per stream."""
        super().sync_all()
        for line in self.summary_lines():
            self.logger.info("%s", line)

    def summary_lines(self) -> list[str]:
        """Per stream: records, partitions, HTTP calls, retries, throttled answers, seconds.

        A parent stream's seconds leave out the time its child streams took inside it.
        """
        by_path = self.client.stats_by_path() if "client" in self.__dict__ else {}
        lines = []
        for stream in self.streams.values():
            if not (stream.selected or stream.has_selected_descendents):
                continue
            summary = stream.run_summary  # type: ignore[attr-defined]
            paths = stream.summary_paths()  # type: ignore[attr-defined]
            counts = {
                name: sum(by_path.get(path, {}).get(name, 0) for path in paths)
                for name in ("calls", "retries", "throttled")
            }
            children = sum(c.run_summary.seconds for c in stream.child_streams)  # type: ignore[attr-defined]
            lines.append(
                f"tap-jing summary: stream={stream.name} records={summary.records} "
                f"partitions={summary.partitions or '-'} http_calls={counts['calls']} "
                f"retries={counts['retries']} throttled={counts['throttled']} "
                f"seconds={max(summary.seconds - children, 0.0):.2f}"
            )
        return lines

    def cross_setting_problems(self, config: dict[str, Any]) -> list[str]:
        try:
            ClientSettings.from_config(config)
        except JingConfigError as error:
            return [str(error)]
        return cross_setting_problems(config)

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
        with errors_end_the_run(cls.logger):
            kwargs["state"] = checked_state(kwargs.get("state"))
            kwargs["catalog"] = checked_catalog(kwargs.get("catalog"))
            super().invoke(**kwargs)

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """Read `--config` files and `ENV` by the declarations; a bad file exits 2, in one line."""
        with errors_end_the_run(cls.logger):
            schema = copy.deepcopy(cls.config_jsonschema)
            cls.append_builtin_config(schema)  # the SDK's own settings are no misspelling
            known = tuple(schema["properties"])
            return config_input(read_config(value, TAP_DECLARATIONS, known=known))

    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        with errors_end_the_run(cls.logger):
            super().cb_test(ctx, param, value)


if __name__ == "__main__":
    TapJing.cli()
