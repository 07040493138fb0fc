"""State bookkeeping that stays cheap with thousands of activity partitions.

The SDK keeps a child stream's partitions as a list in the state and finds a
partition by scanning that list, once per record; and it writes the whole tap
state (every partition) as a STATE message at the end of every partition. Both
grow with the number of activities, so a tenant with thousands of activities
pays per record and per partition for all of them: quadratic in total. Here a
partition's state is found through a dict, and a child stream writes its STATE
at most every `STATE_INTERVAL_SECONDS` while it runs, always at its end. A STATE
left out only means that an interrupted run re-reads a few partitions.
"""

from __future__ import annotations

from typing import Any

from singer_sdk.helpers.types import Context

from tap_jing.sdk_private import StreamStateManager

#: The most often a partitioned stream writes a STATE message while it runs.
STATE_INTERVAL_SECONDS = 10.0


def context_key(context: Context) -> tuple[tuple[str, Any], ...]:
    """A hashable form of a partition's context."""
    return tuple(sorted(context.items()))


def _hold_key(context: Context | None) -> tuple[tuple[str, Any], ...] | None:
    return context_key(context) if context else None


class IndexedStateManager(StreamStateManager):
    """The SDK's state manager, with each partition's state found by a dict lookup,
    and bookmarks that stay put while a listing is read (`hold`).

    The index covers the partitions list in the state (those loaded from a previous
    run, and those added since); a new partition is appended to that list, as the
    SDK does, without the SDK's scan of the whole list. The SDK replaces that list
    only when the tap loads its input state, before any stream runs; a list found
    replaced at a lookup that misses is indexed anew.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._by_context: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
        self._indexed: list[dict[str, Any]] | None = None
        self._indexed_count = 0
        #: The partitions whose bookmark stays where it is (`hold`); None: the stream's own.
        self._held: set[tuple[tuple[str, Any], ...] | None] = set()

    def hold(self, context: Context | None) -> None:
        """Keep the bookmark of `context` where it is now, until `release`.

        While a listing is read, a STATE message must not carry a bookmark past a
        record it may have skipped: a record updated meanwhile moves the ones after
        it into pages already read, and this is seen only when the moved record comes
        again, at the end (`tap_jing.bookmarks.ShiftWatch`). So the SDK's own STATE
        messages in a listing (every 10,000 records) keep the bookmark at which the
        listing started; the stream sets the new one when the listing ends, and keeps
        it sorted (it emits no record behind the newest).
        """
        self._held.add(_hold_key(context))

    def release(self, context: Context | None) -> None:
        """End the hold of `context`: records move its bookmark again."""
        self._held.discard(_hold_key(context))

    def increment_state(
        self, latest_record: dict[str, Any], *, context: Context | None = None, replication_key: str
    ) -> None:
        if self._held and _hold_key(context) in self._held:
            return
        super().increment_state(latest_record, context=context, replication_key=replication_key)

    def get_context_state(self, context: Context | None) -> dict[str, Any]:
        if not context or self.state_partitioning_keys is not None:
            return super().get_context_state(context)
        key = context_key(context)
        state = self._by_context.get(key)
        if state is None:
            partitions = self._partitions()
            self._index(partitions)
            state = self._by_context.get(key)
            if state is None:
                state = {"context": dict(context)}
                partitions.append(state)
                self._index(partitions)
        return state

    def _partitions(self) -> list[dict[str, Any]]:
        stream_state = self.stream_state
        partitions: list[dict[str, Any]] = stream_state.setdefault("partitions", [])
        return partitions

    def _index(self, partitions: list[dict[str, Any]]) -> None:
        """Index the partitions not indexed yet (all of them if the list was replaced)."""
        if partitions is not self._indexed:
            self._by_context.clear()
            self._indexed, self._indexed_count = partitions, 0
        for partition in partitions[self._indexed_count :]:
            self._by_context.setdefault(context_key(partition["context"]), partition)
        self._indexed_count = len(partitions)
