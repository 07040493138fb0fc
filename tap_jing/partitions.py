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
from singer_sdk.streams._state import StreamStateManager

#: The most often a partitioned stream writes a STATE message while it runs.
STATE_INTERVAL_SECONDS = 10.0


class IndexedStateManager(StreamStateManager):
    """The SDK's state manager, with each partition's state found by a dict lookup."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._by_context: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}

    def get_context_state(self, context: Context | None) -> dict[str, Any]:
        if not context:
            return super().get_context_state(context)
        key = tuple(sorted(context.items()))
        state = self._by_context.get(key)
        if state is None:
            state = self._by_context[key] = super().get_context_state(context)
        return state
