"""Every use that target-jing makes of the Singer SDK's private API, in one place.

singer-sdk has no public hook for these. Each use says why it is needed, and
`tests/test_sdk_private.py` fails when the SDK renames, removes or reshapes one
of them. What both connectors share (config reading and validation) is in
`jing_singer.sdk_private`.
"""

from __future__ import annotations

__all__ = ["HostSignals", "RecordsAsTheyCome"]


class RecordsAsTheyCome:
    """A sink mixin (before `BatchSink`): records reach `process_batch` as they came.

    Why: the SDK's `Sink._validate_and_parse` checks each record against its
    stream's schema and parses its date-times, and a record that fails either
    stops the whole run with a traceback. `rows.check_batch` checks every value
    instead, and rejects a bad row with a reason that names it while the run
    goes on.
    """

    def _validate_and_parse(self, record: dict) -> dict:
        return record


class HostSignals:
    """A plugin mixin (before `Target`): the SDK installs no signal handlers.

    Why: `PluginBase.__init__` calls `_setup_signal_handlers`, whose handler
    drains the sinks and exits 0 from inside the signal handler. A target built
    in-process (tests, `sync_dataframe`) keeps its host's handlers; the command
    line installs `shell.stop_on_signals` instead.
    """

    def _setup_signal_handlers(self) -> None:
        return None
