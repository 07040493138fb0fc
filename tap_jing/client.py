"""The base stream: listing, incremental filter, time conversion and the bookmark tail.

Every JING list endpoint pages the same way and is sorted by `updated_time`, so
one base class holds what the three streams share; the concrete streams in
`streams.py` only name their endpoint, keys and fields. All HTTP goes through the
tap's one `jing_client.JingClient`, so the rate limit, the concurrency cap and the
token are shared by every stream of a run; retries and error typing live there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.types import Context
from singer_sdk.schema.source import StreamSchema

from jing_client.times import to_api_time
from tap_jing.bookmarks import STATE_KEY, ShiftWatch, Tail, TailTracker
from tap_jing.partitions import IndexedStateManager
from tap_jing.prefetch import Pages, PartitionPrefetcher
from tap_jing.schemas import SCHEMAS
from tap_jing.sdk_private import write_starting_value

if TYPE_CHECKING:
    from jing_client import ClientSettings, JingClient
    from tap_jing.tap import TapJing


@dataclass
class StreamSummary:
    """Records emitted, partitions read and seconds spent by one stream in a run."""

    records: int = 0
    partitions: int = 0
    seconds: float = 0.0


class JingStream(Stream):
    """A stream read from one paged JING list endpoint, incrementally by `updated_time`.

    Bookmarks: the SDK keeps the newest `updated_time` emitted per stream or
    partition (`is_sorted`: the API sorts lists by update time, so an interrupted
    run resumes from its last STATE). A run asks for `updated_start` = that
    bookmark, in the API's zone. The filter is inclusive, so the records at the
    bookmark come back; those a previous run already emitted are skipped by the
    tail kept beside the bookmark (see `tap_jing.bookmarks`).
    """

    replication_key = "updated_time"
    is_sorted = True
    #: `convert` already gives each field its schema's type and drops unknown fields; the
    #: SDK's own walk over every value of every record would cost as much as the rest.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: `schemas/<stream name>.json`.
    schema = StreamSchema(SCHEMAS)

    #: The field of `jing_client.Paths` that holds this stream's list endpoint.
    path_name: ClassVar[str]
    #: Fields holding API time strings, emitted as UTC ISO 8601 instants.
    time_fields: ClassVar[tuple[str, ...]] = ("created_time", "updated_time")
    #: Status codes, kept as the strings the API sends (numbers are turned into strings).
    status_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, tap: TapJing) -> None:
        super().__init__(tap)
        self._jing_tap = tap
        # Read once: `StreamSchema` looks the schema up on every access, and the SDK
        # reads it twice a record. Its value never changes; an instance attribute
        # takes the place of the class's descriptor (it defines no `__set__`).
        self.__dict__["schema"] = self.schema
        self._fields = frozenset(self.schema["properties"])
        self._unknown_fields: set[str] = set()
        #: What this stream did in the run, for the tap's closing summary.
        self.run_summary = StreamSummary()
        #: Set by the parent while it syncs this stream's partitions (`tap_jing.prefetch`).
        self.prefetcher: PartitionPrefetcher | None = None

    @property
    def state_manager(self) -> IndexedStateManager:
        """The SDK's state manager, finding partitions by dict (see `tap_jing.partitions`)."""
        if self._state_manager is None:
            self._state_manager = IndexedStateManager(
                tap_name=self.tap_name,
                stream_name=self.name,
                tap_state=self._tap_state,
                state_partitioning_keys=self.state_partitioning_keys,
                is_sorted=self.is_sorted,
                check_sorted=self.check_sorted,
            )
        return self._state_manager

    @property
    def client(self) -> JingClient:
        """The tap's one client, shared by every stream of the run."""
        return self._jing_tap.client

    @property
    def client_settings(self) -> ClientSettings:
        return self._jing_tap.client_settings

    @property
    def api_zone(self) -> tzinfo:
        return self._jing_tap.api_zone

    @property
    def path(self) -> str:
        return str(getattr(self.client_settings.paths, self.path_name))

    def summary_paths(self) -> tuple[str, ...]:
        """The endpoints whose calls this stream's summary counts."""
        return (self.path,)

    def request_body(self, context: Context | None) -> dict[str, Any]:
        """The list call's body besides paging and time filter; children add their parent."""
        return {}

    def starting_point(self, context: Context | None) -> datetime | None:
        """The bookmark (or `start_date`) in UTC to the second, or None to read everything.

        To the second because the API filters to the second, inclusively: rounding
        down can only fetch more.
        """
        start = self.get_starting_timestamp(context)
        return None if start is None else start.astimezone(UTC).replace(microsecond=0)

    def list_items(
        self, context: Context | None, since: datetime | None
    ) -> Iterator[dict[str, Any]]:
        """Every item of the listing, updated at or after `since`: fetched ahead, or read now."""
        if context and self.prefetcher is not None:
            fetched = self.prefetcher.take(context, since)
            if fetched is not None:
                yield from fetched
                return
        for page in self.listing(context, since)():
            yield from page

    def listing(self, context: Context | None, since: datetime | None) -> Callable[[], Pages]:
        """A function that reads the listing's pages in order, to run on any thread.

        The body is built here, on the calling thread, from the stream's config and
        `since`; the function itself only calls the client, which threads share.
        Up to `max_concurrency` pages are asked for at once (`jing_client.pages`).
        """
        body = self.request_body(context)
        if since is not None:
            body["updated_start"] = to_api_time(since, self.api_zone)
        pages = self.client.iter_pages
        path, page_size = self.path, self.config["page_size"]
        ahead = self.client_settings.max_concurrency

        def read() -> Pages:
            for page in pages(path, body, page_size=page_size, ahead=ahead):
                yield page.items

        return read

    def prepare_partition(self, context: Context) -> tuple[datetime | None, Callable[[], Pages]]:
        """A partition about to be fetched ahead: its starting point and its listing."""
        write_starting_value(self, context)
        since = self.starting_point(context)
        return since, self.listing(context, since)

    def convert(self, item: dict[str, Any]) -> dict[str, Any]:
        """Turn an API item into a record: times to UTC instants, statuses to strings.

        A time that does not parse is logged with the record's key and emitted as
        null, so that one odd value neither stops the run nor breaks the schema.
        Fields the schema lacks are dropped, with one warning per field name.
        """
        if not self._fields.issuperset(item):
            self._drop_unknown(item, item.keys() - self._fields)
        to_utc_iso = self._jing_tap.api_times.to_utc_iso
        for name in self.time_fields:
            value = item.get(name)
            if not value:
                item[name] = None
                continue
            try:
                item[name] = to_utc_iso(value)
            except (TypeError, ValueError):
                self._null_bad_time(item, name, value)
        for name in self.status_fields:
            value = item.get(name)
            if value is not None and not isinstance(value, str):
                item[name] = str(value)
        return item

    def _null_bad_time(self, item: dict[str, Any], name: str, value: Any) -> None:
        self.logger.warning(
            "%s %s: field '%s' is not a time in the API's format: %r; emitted as null",
            self.name,
            self._describe_key(item),
            name,
            value,
        )
        item[name] = None

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        """Records changed since the bookmark, converted, without re-emissions."""
        since = self.starting_point(context)
        yield from self.emit_new(context, self.list_items(context, since), since)

    def emit_new(
        self, context: Context | None, items: Iterable[dict[str, Any]], since: datetime | None
    ) -> Iterator[dict[str, Any]]:
        """Convert `items`; yield those updated at or after `since` and not already emitted.

        The others go to `on_unchanged`. The tail of what was yielded is stored in
        the state beside the bookmark, for the next run; so is an earlier bookmark
        when the listing moved while it was read (see `ShiftWatch`).
        """
        started = time.perf_counter()
        try:
            yield from self._new_records(context, items, since)
        finally:
            self.run_summary.seconds += time.perf_counter() - started
            if context:
                self.run_summary.partitions += 1

    def _new_records(
        self, context: Context | None, items: Iterable[dict[str, Any]], since: datetime | None
    ) -> Iterator[dict[str, Any]]:
        if not self.selected:
            # Read only for the child streams: nothing is emitted, so no tail is kept.
            yield from map(self.convert, items)
            return
        threshold = None if since is None else since.isoformat()
        state = self.get_context_state(context)
        tail = Tail.from_state(state)
        tracker = TailTracker()
        watch = ShiftWatch(reach=self.client_settings.max_concurrency * self.config["page_size"])
        key_name = self.primary_keys[0]
        self.state_manager.hold(context)
        try:
            for item in items:
                record = self.convert(item)
                value = record.get(self.replication_key)
                if not watch.see(record.get(key_name), value):
                    continue
                if (
                    threshold is not None and value is not None and value < threshold
                ) or tail.holds(value, record):
                    self.on_unchanged(record, context)
                    continue
                tracker.add(value, record)
                self.run_summary.records += 1
                yield record
        finally:
            self.state_manager.release(context)
        newest = tracker.tail()
        state[STATE_KEY] = tail.after(newest).to_state()
        if newest.value is not None:
            self._set_bookmark(state, newest.value, watch.rewind_to)

    def _set_bookmark(self, state: dict[str, Any], newest: str, rewind_to: str | None) -> None:
        """The bookmark once a listing is read: its newest record, or before what may have moved."""
        old = state.get("replication_key_value")
        bookmark = newest if old is None else max(old, newest)
        if rewind_to is not None and rewind_to < bookmark:
            self.logger.warning(
                "%s: the listing changed while it was read (a record came twice or out of "
                "order); the bookmark stays at %s instead of %s so that the next run reads "
                "what may have moved",
                self.name,
                rewind_to,
                bookmark,
            )
            bookmark = rewind_to
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = bookmark

    def on_unchanged(self, record: dict[str, Any], context: Context | None) -> None:
        """Called with each listed record that is not emitted because nothing changed."""

    def generate_child_contexts(
        self, record: dict[str, Any], context: Context | None
    ) -> Iterator[Context | None]:
        """No child context at all for a stream without children.

        The SDK would otherwise copy the context and run the stream map's filter for
        every record of a childless stream, to sync no children.
        """
        if self.child_streams:
            yield from super().generate_child_contexts(record, context)

    def _drop_unknown(self, item: dict[str, Any], unknown: set[str]) -> None:
        new = unknown - self._unknown_fields
        if new:
            self._unknown_fields |= new
            self.logger.warning(
                "%s: the API sent fields the schema does not have; not emitted: %s",
                self.name,
                ", ".join(sorted(new)),
            )
        for name in unknown:
            del item[name]

    def _describe_key(self, record: Mapping[str, Any]) -> str:
        return " ".join(f"{key}={record.get(key)!r}" for key in self.primary_keys)
