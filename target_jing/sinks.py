"""Sinks: stage each batch of status records in the run's ledger; ignore other streams.

The SDK calls `process_batch` when a batch is full or the input ends, and only
then emits the STATE it was holding. `SyncRun.add_records` has committed the
batch to the ledger when it returns, so the STATE a tap bookmarks from never
runs ahead of rows the ledger holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from singer_sdk.sinks import BatchSink

from target_jing.sdk_private import RecordsAsTheyCome

if TYPE_CHECKING:
    from target_jing.target import TargetJing


class StatusSink(RecordsAsTheyCome, BatchSink):
    """Hands a stream's records, as they came, to the target's one `SyncRun`, batch by batch.

    The row checks (`rows.check_batch`) judge each record, not the SDK's schema
    validation: see `sdk_private.RecordsAsTheyCome`.
    """

    def __init__(self, target: TargetJing, *args: Any, **kwargs: Any) -> None:
        super().__init__(target, *args, **kwargs)
        self._target = target
        # A stream whose schema cannot carry status rows stops the run before it is read.
        target.sync_run().check_shape(
            self.schema.get("properties", {}), f"singer:{self.stream_name}"
        )

    def process_batch(self, context: dict) -> None:
        records = context.get("records", [])
        if records:
            self._target.sync_run().add_records(records, source=f"singer:{self.stream_name}")


class IgnoredStreamSink(BatchSink):
    """A stream left out by the `streams` setting: its records are read and dropped."""

    def process_record(self, record: dict, context: dict) -> None:
        """Keep nothing, so an ignored stream costs no memory."""

    def process_batch(self, context: dict) -> None:
        """Nothing was kept."""
