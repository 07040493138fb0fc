"""Every use that tap-jing makes of the Singer SDK's private API, in one place.

singer-sdk has no public hook for these. Each use says why it is needed, and
`tests/test_sdk_private.py` fails when the SDK renames, removes or reshapes one
of them, so an SDK upgrade shows at once what it breaks. What both connectors
share (config reading and validation) is in `jing_singer.sdk_private`.
"""

from __future__ import annotations

from typing import Any

import singer_sdk.streams.core as sdk_stream_core
from singer_sdk import Stream
from singer_sdk.helpers.types import Context
from singer_sdk.singerlib.catalog import SelectionMask

# Why: the tap's state manager finds a partition by a dict lookup instead of the SDK's
# scan of the whole partitions list once per record (see `tap_jing.partitions`). The
# SDK builds its own in `Stream.state_manager`; no setting swaps the class.
from singer_sdk.streams._state import StreamStateManager

__all__ = [
    "StateWriteGate",
    "StreamStateManager",
    "skip_selection_walk_when_all_selected",
    "sync_children",
    "write_starting_value",
]


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


#: Each selection mask seen, by id, with whether it deselects anything (the mask is kept,
#: so that its id is not reused). A stream builds its mask once (`Stream.mask`).
_MASK_VERDICTS: dict[int, tuple[SelectionMask, bool]] = {}


def _deselects_any(mask: SelectionMask) -> bool:
    known = _MASK_VERDICTS.get(id(mask))
    if known is None or known[0] is not mask:
        known = (mask, not all(mask.values()))
        _MASK_VERDICTS[id(mask)] = known
    return known[1]


def skip_selection_walk_when_all_selected() -> None:
    """Skip the SDK's per-record walk against the selection mask when it selects everything.

    Why: `Stream._generate_record_messages` calls `pop_deselected_record_properties`
    for every record, which copies the record and looks each property (and each
    nested one) up in the mask, even when every property is selected, as in most
    runs: a few microseconds a record, a tenth of the tap's own CPU. A mask that
    holds no False removes nothing (a breadcrumb missing from it takes its
    parent's value, and the stream's own is True), so the walk is skipped then
    and runs as before otherwise. The SDK calls the helper through its module's
    global, so that global is wrapped, once; no hook or setting reaches it.
    """
    walk = sdk_stream_core.pop_deselected_record_properties
    if getattr(walk, "skips_when_all_selected", False):
        return

    def pop_deselected(record: dict[str, Any], schema: dict, mask: SelectionMask) -> None:
        if _deselects_any(mask):
            walk(record, schema, mask)

    pop_deselected.skips_when_all_selected = True  # type: ignore[attr-defined]
    sdk_stream_core.pop_deselected_record_properties = pop_deselected
