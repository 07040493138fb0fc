"""The tap's streams: activities, their registrations (activity_users), and users."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from singer_sdk.helpers.types import Context

from jing_client import JingNotFound
from tap_jing.client import JingStream
from tap_jing.partitions import STATE_INTERVAL_SECONDS
from tap_jing.prefetch import PartitionPrefetcher
from tap_jing.sdk_private import StateWriteGate, sync_children

if TYPE_CHECKING:
    from tap_jing.tap import TapJing


class ActivitiesStream(JingStream):
    """Activities; each one is also a partition of `activity_users`.

    While `activity_users` is selected, every activity is listed on every run (a
    few pages): registrations change without their activity changing, so each
    activity's partition must be visited. Only activities changed since the
    bookmark are emitted; the others are read for their partition alone.
    """

    name = "activities"
    path_name = "activity_list"
    primary_keys = ("entity_uuid",)
    time_fields = ("start_time", "end_time", "created_time", "updated_time")

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        since = self.starting_point(context)
        listed_since = None if self.has_selected_descendents else since
        items = self.wanted(self.list_items(context, listed_since), complete=listed_since is None)
        with self.children_fetched_ahead(items, context) as listed:
            for record in self.emit_new(context, listed, since):
                yield self.with_detail(record)

    @contextmanager
    def children_fetched_ahead(
        self, items: Iterator[dict[str, Any]], context: Context | None
    ) -> Iterator[Iterator[dict[str, Any]]]:
        """While the activities are emitted, their registrations are fetched ahead.

        The whole listing is read first (a few pages), so that the partitions the
        SDK will sync next are known; see `tap_jing.prefetch` for the design.
        """
        children = [
            child
            for child in self.child_streams
            if isinstance(child, JingStream) and (child.selected or child.has_selected_descendents)
        ]
        if not children:
            yield items
            return
        listed = list(items)
        plan = [self.get_child_context(item, context) for item in listed]
        for child in children:
            child.prefetcher = PartitionPrefetcher(
                plan, child.prepare_partition, self.client_settings.max_concurrency
            )
        try:
            yield iter(listed)
        finally:
            for child in children:
                if child.prefetcher is not None:
                    child.prefetcher.close()
                child.prefetcher = None

    def on_unchanged(self, record: dict[str, Any], context: Context | None) -> None:
        """An unchanged activity is not emitted, but its registrations may have changed.

        So its partition is synced here, by the SDK's own child-sync step (the one it
        runs after each emitted parent record).
        """
        if self.has_selected_descendents:
            sync_children(self, self.get_child_context(record, context))

    def wanted(
        self, items: Iterator[dict[str, Any]], *, complete: bool
    ) -> Iterator[dict[str, Any]]:
        """The items of the setting `activity_ids` (all when unset).

        When the listing is `complete` (not filtered by time), an id it lacks is a
        mistake in the setting or a deleted activity: say so rather than read nothing
        in silence.
        """
        ids = self.config.get("activity_ids")
        if not ids:
            yield from items
            return
        wanted_ids = set(ids)
        seen: set[str] = set()
        for item in items:
            if item.get("entity_uuid") in wanted_ids:
                seen.add(item["entity_uuid"])
                yield item
        for activity_id in sorted(wanted_ids - seen if complete else ()):
            self.logger.warning(
                "setting 'activity_ids': activity %r was not in the listing; nothing read for it",
                activity_id,
            )

    def with_detail(self, record: dict[str, Any]) -> dict[str, Any]:
        """Add `description` and `form_fields` from the detail endpoint when the setting asks."""
        if not (self.selected and self.config.get("include_activity_details")):
            return record
        try:
            detail = self.client.call(
                self.client_settings.paths.activity_detail, {"entity_uuid": record["entity_uuid"]}
            ).data
        except JingNotFound as error:
            self.logger.warning(
                "activity %r has no detail (%s); emitted without it", record["entity_uuid"], error
            )
            return record
        record["description"] = detail.get("description")
        record["form_fields"] = detail.get("form_fields")
        return record

    def summary_paths(self) -> tuple[str, ...]:
        return (self.path, self.client_settings.paths.activity_detail)

    def get_child_context(self, record: dict[str, Any], context: Context | None) -> Context:
        """One partition per activity, named like the registrations' own activity field."""
        return {"target_entity_uuid": record["entity_uuid"]}


class ActivityUsersStream(StateWriteGate, JingStream):
    """Registrations of one activity per partition, with their approval and sign-in status."""

    name = "activity_users"
    path_name = "activity_user_list"
    parent_stream_type = ActivitiesStream
    primary_keys = ("jing_uuid",)
    time_fields = (
        "ems_approvetimestamp",
        "ems_signintimestamp",
        "registration_time",
        "updated_time",
    )
    status_fields = ("ems_approvestatus", "ems_signinstatus")

    def __init__(self, tap: TapJing) -> None:
        super().__init__(tap)
        self._next_state_at = 0.0
        self._finalizing = False

    def should_write_state(self) -> bool:
        """At most one STATE per `STATE_INTERVAL_SECONDS` while partitions run; all at the end.

        Each one holds every partition (see `tap_jing.partitions`). The parent
        writes the whole state when it finishes, and so does the final step.
        """
        now = time.monotonic()
        if not self._finalizing and now < self._next_state_at:
            return False
        self._next_state_at = now + STATE_INTERVAL_SECONDS
        return True

    def finalize_state_progress_markers(self, state: dict[str, Any] | None = None) -> None:
        self._finalizing = True
        super().finalize_state_progress_markers(state)

    def request_body(self, context: Context | None) -> dict[str, Any]:
        if not context:
            raise ValueError("activity_users is read per activity, as a child of activities")
        return {"entity_uuid": context["target_entity_uuid"]}

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """The partition's new registrations, then a progress line (DEBUG) for the partition.

        The tap's closing summary gives the totals, so a run with nothing new prints
        one line per stream, not one per activity.
        """
        started = time.perf_counter()
        count = 0
        try:
            for record in super().get_records(context):
                count += 1
                yield record
        except JingNotFound as error:
            self.logger.warning(
                "activity %r is gone; its registrations were not read (%s)", context, error
            )
        self.logger.debug(
            "activity_users: activity %s done: %d records in %.2f s",
            context["target_entity_uuid"] if context else None,
            count,
            time.perf_counter() - started,
        )


class UsersStream(JingStream):
    """Users with their identities and custom fields."""

    name = "users"
    path_name = "user_list"
    primary_keys = ("omni_user_uuid",)
