"""The Singer target: Singer records in, statuses written back through the batch endpoint.

One `SyncRun` serves the whole process. It opens with the first batch of
records, each batch is staged in the ledger by the sink's `process_batch`
(which the SDK runs before it emits the STATE covering those records), and the
run is planned, sent and recorded once, when the input ends. That way the calls
are the true minimum over all the input, and a kill at any point loses nothing
the next run cannot finish. Reading the config, signals and exit codes are the
process shell's (`target_jing.shell`).
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, ClassVar

import click
from singer_sdk import Target
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import (
    FLATTENING_CONFIG,
    STREAM_MAPS_CONFIG,
    TARGET_BATCH_SIZE_ROWS_CONFIG,
    PluginCapabilities,
)
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.sinks import Sink

from jing_client import JingConfigError
from jing_client.redact import redact
from jing_singer import exit_codes
from jing_singer.sdk_private import ConfigInput, DeclaredConfig, config_input
from target_jing import shell
from target_jing.engine import RunSummary, SyncRun
from target_jing.progress import ProgressReporter
from target_jing.report import write_report
from target_jing.sdk_private import HostSignals
from target_jing.settings import TARGET_DECLARATIONS, TargetSettings
from target_jing.singer_lines import SingerLineReader
from target_jing.sinks import IgnoredStreamSink, StatusSink
from target_jing.sources import SourceError


class TargetJing(HostSignals, DeclaredConfig, Target):
    """Write activity user statuses back to JING, sending only what changed."""

    name = "target-jing"
    package_name = "jing-connectors"
    declarations = TARGET_DECLARATIONS
    config_jsonschema: ClassVar[dict] = TARGET_DECLARATIONS.json_schema()
    capabilities: ClassVar[list] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]
    default_sink_class = StatusSink
    message_reader_class = SingerLineReader

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Validated at start, so a bad setting stops the process before any input is read.
        self.settings = TargetSettings.from_config(
            self.config, known=tuple(self.config_jsonschema["properties"])
        )
        # One SyncRun at a time: sinks share it and DuckDB connections are not thread-safe.
        self.max_parallelism = 1
        self._run: SyncRun | None = None
        self._run_stack = contextlib.ExitStack()
        self._progress = ProgressReporter(interval_seconds=self.settings.progress_interval_seconds)
        self._ignored: set[str] = set()
        self.summary: RunSummary | None = None

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict) -> None:
        """Only the SDK's built-in settings that act on target-jing (`--about` lists no others).

        The SDK also offers `add_record_metadata` and `load_method`, which mean
        nothing for a write-back; a config that sets them is refused as unknown.
        """
        for builtin in (TARGET_BATCH_SIZE_ROWS_CONFIG, STREAM_MAPS_CONFIG, FLATTENING_CONFIG):
            for name, schema in builtin["properties"].items():
                config_jsonschema["properties"].setdefault(name, schema)

    def cross_setting_problems(self, config: dict[str, Any]) -> list[str]:
        try:
            TargetSettings.from_config(config, known=tuple(self.config_jsonschema["properties"]))
        except JingConfigError as error:
            return [str(error)]
        return []

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
        """Drain the sinks (STATE follows the staged rows), then plan, send and record.

        A run opens even when no record came (an incremental tap with nothing new):
        it still retries the pending rows of earlier runs and closes a run that a
        killed process left open.
        """
        super().process_endofpipe()
        run = self.sync_run()
        try:
            self.summary = run.finish()
        finally:
            self._progress.close()
            self._run_stack.close()
        self._run = None

    def abort_run(self) -> None:
        """Close an unfinished run as aborted (the exception being handled is recorded)."""
        self._progress.close()
        self._run_stack.__exit__(*sys.exc_info())
        self._run = None

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: ConfigInput | None = None,
        file_input: Any = None,
    ) -> None:
        """Run as a Singer target and exit with the code of `shell.exit_code`."""
        if about:
            cls.print_about(about_format)
            sys.exit(0)
        cls.print_version(print_fn=cls.logger.info)
        shell.stop_on_signals()
        target = cls.from_input(config or ConfigInput())
        try:
            target.listen(file_input)
        except InvalidInputLine as exc:
            target.abort_run()
            bad_line = SourceError(f"a Singer message on stdin: {exc}")
            sys.exit(shell.stopped_by(bad_line, cls.logger))
        except Exception as exc:  # a locked ledger, bad input, the database or machine failing
            target.abort_run()
            sys.exit(shell.stopped_by(exc, cls.logger))
        except BaseException:
            target.abort_run()
            raise
        sys.exit(target.report())

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """Read `--config` files and `ENV` by the declarations; a bad file exits 2, in one line."""
        try:
            return config_input(shell.read_config(value))
        except JingConfigError as exc:
            sys.exit(shell.stopped_by(exc, cls.logger))

    @classmethod
    def from_input(cls, config: ConfigInput) -> TargetJing:
        """Build the target from `--config` input; a bad setting exits 2 with one message."""
        try:
            return cls(config=config.config, parse_env_config=False, validate_config=True)
        except ConfigValidationError as exc:
            for error in exc.errors:
                cls.logger.error("Bad config: %s", redact(error))
            sys.exit(exit_codes.BAD_INPUT)
        except JingConfigError as exc:
            sys.exit(shell.stopped_by(exc, cls.logger))

    def report(self) -> int:
        """Write the summary to stderr (stdout carries STATE) and return the exit code."""
        if self.summary is None:
            return exit_codes.OK
        code = shell.exit_code(self.summary)
        write_report(self.summary, code, human=sys.stderr, machine=sys.stderr)
        return code
