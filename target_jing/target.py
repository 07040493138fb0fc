"""The Singer target: Singer records in, statuses written back through the batch endpoint.

One `SyncRun` serves the whole process. It opens with the first batch of
records, each batch is staged in the ledger by the sink's `process_batch`
(which the SDK runs before it emits the STATE covering those records), and the
run is planned, sent and recorded once, when the input ends. That way the calls
are the true minimum over all the input, and a kill at any point loses nothing
the next run cannot finish.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from decimal import Decimal
from types import FrameType
from typing import Any, ClassVar

import click
from singer_sdk import Target
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.helpers.capabilities import PluginCapabilities
from singer_sdk.io_base import SingerReader
from singer_sdk.plugin_base import _ConfigInput
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.singerlib.json import deserialize_json
from singer_sdk.sinks import Sink

from jing_client import JingAuthError, JingConfigError, JingPermissionError
from jing_client.redact import redact, register_secret
from jing_client.settings import unknown_settings
from target_jing import exit_codes
from target_jing.config_schema import config_jsonschema
from target_jing.engine import RunSummary, SyncRun
from target_jing.progress import ProgressReporter
from target_jing.report import write_report
from target_jing.settings import TargetSettings
from target_jing.sinks import IgnoredStreamSink, StatusSink

#: JSON-schema types whose values arrive from environment variables as text.
_NUMERIC_TYPES = ("number", "integer")


class SingerLineReader(SingerReader):
    """The SDK's reader, without the traceback it logs for a line that is not JSON.

    The line still ends the run (`InvalidInputLine`); `TargetJing.invoke` says so
    in one message.
    """

    def deserialize_json(self, line: str) -> dict:
        try:
            return deserialize_json(line)
        except ValueError as exc:
            raise InvalidInputLine(f"a line is not JSON ({exc}): {line[:200]}") from None


class TargetJing(Target):
    """Write activity user statuses back to JING, sending only what changed."""

    name = "target-jing"
    package_name = "jing-connectors"
    config_jsonschema: ClassVar[dict] = config_jsonschema()
    capabilities: ClassVar[list] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]
    default_sink_class = StatusSink
    message_reader_class = SingerLineReader

    def __init__(self, *args: Any, warehouse_path: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Validated at start, so a bad setting stops the process before any input is read.
        self.settings = TargetSettings.from_config(self.config, warehouse_path=warehouse_path)
        # One SyncRun at a time: sinks share it and DuckDB connections are not thread-safe.
        self.max_parallelism = 1
        self._run: SyncRun | None = None
        self._run_stack = contextlib.ExitStack()
        self._progress = ProgressReporter(interval_seconds=self.settings.progress_interval_seconds)
        self._ignored: set[str] = set()
        self.summary: RunSummary | None = None

    @classproperty
    def _env_var_config(cls) -> dict[str, Any]:
        """The SDK's env parsing, plus numbers: it passes `TARGET_JING_*` numbers on as text.

        Meltano hands settings to plugin commands (`meltano invoke target-jing:sync`)
        only as environment variables, so they must come out typed.
        """
        config = super()._env_var_config
        properties = cls.config_jsonschema["properties"]
        for key, value in config.items():
            types = properties[key].get("type", [])
            types = [types] if isinstance(types, str) else types
            if isinstance(value, str) and set(_NUMERIC_TYPES) & set(types):
                config[key] = _number(value)
        return config

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's JSON-schema checks, then unknown keys: a misspelt setting is not ignored."""
        errors = super()._validate_config(raise_errors=raise_errors) or unknown_settings(
            self._config, self.config_jsonschema["properties"]
        )
        if errors and raise_errors:
            raise ConfigValidationError(
                "Config validation failed", errors=errors, schema=self.config_jsonschema
            )
        return errors

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        """The status sink for the streams named in `streams` (default all), else a no-op."""
        if self.settings.streams is None or stream_name in self.settings.streams:
            return StatusSink
        if stream_name not in self._ignored:
            self._ignored.add(stream_name)
            self.logger.info(
                "Ignoring stream '%s': it is not in the 'streams' setting.", stream_name
            )
        return IgnoredStreamSink

    def sync_run(self) -> SyncRun:
        """The process's run, opened with the first batch that reaches a status sink."""
        if self._run is None:
            self._run = self._run_stack.enter_context(
                SyncRun(self.settings, mode="normal", on_progress=self._progress)
            )
        return self._run

    def process_endofpipe(self) -> None:
        """Drain the sinks (STATE follows the staged rows), then plan, send and record."""
        super().process_endofpipe()
        if self._run is not None:
            try:
                self.summary = self._run.finish()
            finally:
                self._progress.close()
                self._run_stack.close()
            self._run = None

    def abort_run(self) -> None:
        """Close an unfinished run as aborted (the exception being handled is recorded)."""
        self._progress.close()
        self._run_stack.__exit__(*sys.exc_info())
        self._run = None

    def _setup_signal_handlers(self) -> None:
        """None here: a target built in-process (tests, `sync_dataframe`) keeps its host's.

        The command line installs `stop_on_signals` instead of the SDK's handler.
        """

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: _ConfigInput | None = None,
        file_input: Any = None,
    ) -> None:
        """Run as a Singer target and exit with the code of `exit_codes`."""
        if about:
            cls.print_about(about_format)
            sys.exit(0)
        cls.print_version(print_fn=cls.logger.info)
        stop_on_signals()
        config = config or _ConfigInput()
        target = cls.from_input(config)
        try:
            target.listen(file_input)
        except JingConfigError as exc:  # e.g. the ledger is locked by another run
            target.abort_run()
            cls.logger.error("Bad config: %s", redact(str(exc)))
            sys.exit(exit_codes.BAD_INPUT)
        except InvalidInputLine as exc:  # not JSON, or a message without its required keys
            target.abort_run()
            cls.logger.error("Bad input: a Singer message on stdin: %s", redact(str(exc)))
            sys.exit(exit_codes.BAD_INPUT)
        except (JingAuthError, JingPermissionError) as exc:
            target.abort_run()
            cls.logger.error("%s", redact(str(exc)))
            sys.exit(exit_codes.FATAL_AUTH)
        except BaseException:
            target.abort_run()
            raise
        sys.exit(target.report())

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """Read `--config` like the SDK, but a missing or broken file exits 2, traceback-free."""
        return read_config_input(value)

    @classmethod
    def from_input(cls, config: _ConfigInput, warehouse_path: str | None = None) -> TargetJing:
        """Build the target from `--config` input; a bad setting exits 2 with one message."""
        register_secret(config.config.get("app_secret"))
        if config.parse_env:
            register_secret(os.environ.get(f"{cls._env_var_prefix}APP_SECRET"))
        try:
            return cls(
                config=config.config,
                parse_env_config=config.parse_env,
                validate_config=True,
                warehouse_path=warehouse_path,
            )
        except ConfigValidationError as exc:
            for error in exc.errors:
                cls.logger.error("Bad config: %s", redact(error))
        except JingConfigError as exc:
            cls.logger.error("Bad config: %s", redact(str(exc)))
        sys.exit(exit_codes.BAD_INPUT)

    def report(self) -> int:
        """Write the summary to stderr (stdout carries STATE) and return the exit code."""
        if self.summary is None:
            self.logger.info("No records reached a status stream: nothing to write back.")
            return exit_codes.OK
        code = exit_codes.for_summary(self.summary, self.settings.max_failed_ratio)
        write_report(self.summary, code, human=sys.stderr, machine=sys.stderr)
        return code


def stop_on_signals() -> None:
    """SIGTERM and SIGINT end the process as a kill would, after one line on stderr.

    The SDK's handler drains the sinks and exits 0 from inside the signal
    handler: that tells a scheduler the write-back happened, and it can break
    into a ledger transaction half-way. A kill is what the ledger is built to
    survive: what was staged is durable, and the next run finishes it.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop_now)


def _stop_now(signum: int, frame: FrameType | None) -> None:
    """Say why, then die of the signal itself (exit status 128 + signum in a shell)."""
    os.write(2, f"target-jing: stopped by signal {signum}; the next run finishes it\n".encode())
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def read_config_input(values: Sequence[str]) -> _ConfigInput:
    """Merge `--config` files (later wins) and note `ENV`, as the SDK does; exit 2 on a bad file.

    The SDK reads JSON decimals as `Decimal`; settings are plain numbers, so they become floats.
    """
    try:
        config_input = _ConfigInput.from_cli_args(*values)
    except (OSError, ValueError) as exc:
        TargetJing.logger.error("Bad config: cannot read --config: %s", exc)
        sys.exit(exit_codes.BAD_INPUT)
    config_input.config = {
        key: float(value) if isinstance(value, Decimal) else value
        for key, value in config_input.config.items()
    }
    return config_input


def _number(text: str) -> int | float | str:
    """Text to a number; text that is not one is left for validation to name the setting."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text
