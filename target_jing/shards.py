"""`target-jing sync --shard K/N`: this run takes the activities that hash to shard K of N.

N runs, one per shard, then cover disjoint registrations: an activity's rows all
go to one shard, so no two shards ever set the same registration. The hash is
BLAKE2b of the activity id, the same in every process and on every machine
(Python's own `hash` of a string changes from process to process). A row whose
activity id is missing belongs to shard 1, so that exactly one run logs its
rejection.

The shards of one write-back share the API's budget: with the setting
`shards_share_budget` (on by default) each takes 1/N of `requests_per_second` and
of `max_concurrency` (at least one call in flight), so N runs at once stay within
the app's limits. On a PostgreSQL ledger the shards that are running are known
(each holds a lock while it sends), and `live_share` gives each the rate over the
number sending now: a shard still planning, or one that has ended, leaves its part
to the others.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache

from jing_client import ClientSettings, JingConfigError

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard `index` (1-based) of `count`."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`K/N` with 1 <= K <= N; `JingConfigError` naming `--shard` otherwise."""
        match = _SHARD.match(text)
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise JingConfigError(f"--shard must be K/N with 1 <= K <= N, got {text!r}")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, activity_id: str | None) -> bool:
        """Whether this shard takes the rows of `activity_id` (shard 1 those without one)."""
        if activity_id is None:
            return self.index == 1
        return _shard_of(activity_id, self.count) == self.index

    def share(self, client: ClientSettings) -> ClientSettings:
        """The client settings with this shard's part of the pace and of the calls in flight."""
        return replace(
            client,
            requests_per_second=client.requests_per_second / self.count,
            max_concurrency=max(1, client.max_concurrency // self.count),
        )


#: Seconds between two looks at how many shards are running (`live_share`).
LOOK_SECONDS = 0.25

logger = logging.getLogger("target-jing")


@contextmanager
def live_share(
    requests_per_second: float,
    running: Callable[[], int | None],
    set_pace: Callable[[float], None],
) -> Iterator[None]:
    """While a shard sends, its pace is the app's rate over the number of shards sending now.

    Static shares leave budget unused while a shard still plans and once a smaller
    one has ended. A thread looks every `LOOK_SECONDS`: a shard that starts sending
    in between can make the sum overrun for that long, which the server's window
    mostly absorbs, and the throttle's halving answers any throttling.
    A look that fails (the database went away) leaves the last pace in place.
    """
    stop = threading.Event()

    def look() -> bool:
        try:
            now_running = running()
        except Exception as error:  # a lost connection: keep the pace it has
            logger.warning("cannot count the running shards any more (%s); pace kept", error)
            return False
        if now_running:
            set_pace(requests_per_second / now_running)
        return True

    def watch() -> None:
        while not stop.wait(LOOK_SECONDS) and look():
            pass

    look()
    thread = threading.Thread(target=watch, name="jing-live-share", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@lru_cache(maxsize=1 << 16)
def _shard_of(activity_id: str, count: int) -> int:
    """The 1-based shard of an activity: asked once per row, hashed once per activity."""
    digest = hashlib.blake2b(activity_id.encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "big") % count + 1
