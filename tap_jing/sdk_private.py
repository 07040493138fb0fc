"""Every use that tap-jing makes of the Singer SDK's private API, in one place.

singer-sdk has no public hook for these. Each use says why it is needed, and
`tests/test_sdk_private.py` fails when the SDK renames, removes or reshapes one
of them, so an SDK upgrade shows at once what it breaks. What both connectors
share (config reading and validation) is in `jing_singer.sdk_private`.
"""

from __future__ import annotations

from singer_sdk import Stream
from singer_sdk.helpers.types import Context

# Why: the tap's state manager finds a partition by a dict lookup instead of the SDK's
# scan of the whole partitions list once per record (see `tap_jing.partitions`). The
# SDK builds its own in `Stream.state_manager`; no setting swaps the class.
from singer_sdk.streams._state import StreamStateManager

__all__ = ["StateWriteGate", "StreamStateManager", "sync_children", "write_starting_value"]


def sync_children(stream: Stream, child_context: Context) -> None:
    """Sync `stream`'s child streams for one parent record that is not emitted.

    Why: an activity that did not change is not emitted, but its registrations may
    have. The SDK syncs children only after an emitted record, and this is the
    step it runs then (`Stream._sync_children`).
    """
    stream._sync_children(child_context)


def write_starting_value(stream: Stream, context: Context) -> None:
    """Put a partition's starting value in its state, as the SDK does when it syncs it.

    Why: a partition fetched ahead (`tap_jing.prefetch`) is read from its starting
    point before the SDK's loop reaches it, and that point is what the SDK's sync
    step (`Stream._write_starting_replication_value`) writes. Writing it twice
    gives the same value: only emitting the partition's records moves its bookmark.
    """
    stream._write_starting_replication_value(context)


class StateWriteGate:
    """A stream mixin (before `Stream` in the bases): STATE only when `should_write_state`.

    Why: the SDK writes the whole tap state after every partition
    (`Stream._write_state_message`), which grows quadratic in the number of
    activities. The stream decides when; the SDK's method does the writing.
    """

    def should_write_state(self) -> bool:
        return True

    def _write_state_message(self) -> None:
        if self.should_write_state():
            super()._write_state_message()  # type: ignore[misc]
