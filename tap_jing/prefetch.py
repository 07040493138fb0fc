"""The registrations of the next few activities, fetched while the current one is emitted.

Why: the Singer SDK syncs a parent's child partitions one after another, in one
loop (its issue #2121 asks for partition parallelism and is still open). Each
partition is a chain of page calls, so a sequential tap has one call in flight:
at 100 ms from the API it uses about half of a 20 calls/s budget.

How: once the activities stream has read its listing, it knows which partitions
its child will be synced for, and in which order. A `PartitionPrefetcher` reads
the pages of up to `ahead` of those partitions at once, on worker threads, each
partition's pages in order into a small queue of its own. The SDK's loop is left
as it is: it still syncs the partitions one by one, in listing order, on the main
thread, and the child's listing takes its pages from the queue instead of the API.
Every call still goes through the tap's one client, so `requests_per_second` and
`max_concurrency` bound the workers together with the main thread.

What this keeps: records are emitted partition by partition, each partition's in
the API's order, and only the main thread emits records or touches the state, so a
STATE message means what it did: a partition's bookmark moves only as its records
are emitted. An interrupted run loses only pages fetched ahead and not emitted;
the next run starts those partitions from their bookmarks and reads them again.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from singer_sdk.helpers.types import Context

from tap_jing.partitions import context_key

#: Pages one partition may hold fetched and not yet emitted.
PAGES_AHEAD = 4
#: How often a worker waiting on a full queue looks whether it is still wanted.
_POLL_SECONDS = 0.1

Pages = Iterator[list[dict[str, Any]]]
#: Called on the main thread when a partition is started: the partition's `since` (what
#: its listing filters on) and a function that reads its pages (run on a worker).
Prepare = Callable[[Context], tuple[Any, Callable[[], Pages]]]

_DONE = object()


class _Partition:
    """One partition being fetched: its queue of pages, then `_DONE` or an exception."""

    def __init__(self, since: Any) -> None:
        self.since = since
        self.pages: queue.Queue[Any] = queue.Queue(maxsize=PAGES_AHEAD)
        self.dropped = threading.Event()

    def fill(self, read: Callable[[], Pages], stopped: threading.Event) -> None:
        """Worker: put every page in order, then `_DONE`; an error ends the partition."""
        try:
            for page in read():
                if not self._put(page, stopped):
                    return
        except BaseException as error:  # handed over, raised where the partition is read
            self._put(error, stopped)
            return
        self._put(_DONE, stopped)

    def _put(self, item: Any, stopped: threading.Event) -> bool:
        while not (self.dropped.is_set() or stopped.is_set()):
            try:
                self.pages.put(item, timeout=_POLL_SECONDS)
            except queue.Full:
                continue
            return True
        return False

    def items(self) -> Iterator[dict[str, Any]]:
        """Main thread: the partition's items in order, as the worker delivers them."""
        try:
            while (page := self.pages.get()) is not _DONE:
                if isinstance(page, BaseException):
                    raise page
                yield from page
        finally:
            self.dropped.set()


class PartitionPrefetcher:
    """Reads the planned partitions' pages ahead, at most `ahead` partitions at once.

    `plan` is the order the SDK will sync the partitions in. `take` is called for
    each, in that order; a planned partition that is never taken (a stream map
    filtered its parent out) is dropped when a later one is taken. A context not in
    the plan gets None, and its stream reads it itself.
    """

    def __init__(self, plan: Iterable[Context], prepare: Prepare, ahead: int) -> None:
        self._plan: deque[Context] = deque(plan)
        self._planned = {context_key(c) for c in self._plan}
        self._prepare = prepare
        self._ahead = max(ahead, 1)
        self._running: dict[tuple[tuple[str, Any], ...], _Partition] = {}
        self._stopped = threading.Event()
        self._pool = ThreadPoolExecutor(self._ahead, thread_name_prefix="tap-jing-prefetch")

    def take(self, context: Context, since: Any) -> Iterator[dict[str, Any]] | None:
        """The items of `context`'s partition, fetched ahead; None when it was not planned.

        `since` is what the stream filters this partition on now; a partition
        prepared with another (which should not happen) is read again by the stream.
        """
        key = context_key(context)
        if key not in self._planned:
            return None
        while key not in self._running:
            self._start_next()
        for other in list(self._running):
            if other == key:
                break
            self._drop(other)
        partition = self._running.pop(key)
        self._planned.discard(key)
        while self._plan and len(self._running) < self._ahead - 1:
            self._start_next()
        if partition.since != since:
            partition.dropped.set()
            return None
        return partition.items()

    def close(self) -> None:
        """Stop the workers; pages fetched and not taken are let go."""
        self._stopped.set()
        for partition in self._running.values():
            partition.dropped.set()
        self._running.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _start_next(self) -> None:
        context = self._plan.popleft()
        since, read = self._prepare(context)
        partition = _Partition(since)
        self._running[context_key(context)] = partition
        self._pool.submit(partition.fill, read, self._stopped)

    def _drop(self, key: tuple[tuple[str, Any], ...]) -> None:
        self._running.pop(key).dropped.set()
        self._planned.discard(key)
