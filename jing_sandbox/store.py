"""The sandbox's data: indexed rows, sorted list views, updates and the --db file.

One lock guards everything; list answers copy their rows under it so that a
concurrent update never shows half-applied. With a --db path, a background thread
writes the file (atomically, by rename) within half a second of a change, and
`close()` writes it once more, so a kill -9 loses at most the last second.
"""

from __future__ import annotations

import json
import os
import random
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from pathlib import Path

from jing_sandbox.data import Dataset, IdMaker, Row, new_registration, new_user
from jing_sandbox.json_text import json_bytes
from jing_sandbox.timefmt import now_text

FLUSH_SECONDS = 0.5
STATUS_FIELDS = (
    "ems_approvestatus",
    "ems_approvetimestamp",
    "ems_signinstatus",
    "ems_signintimestamp",
)
ECHO_FIELDS = ("target_entity_uuid", "jing_uuid", "omni_user_uuid", *STATUS_FIELDS)
DETAIL_ONLY = ("description", "form_fields")


class DbFileError(ValueError):
    """The --db file exists but cannot be read as sandbox data."""


class StoreClosed(RuntimeError):
    """A write arrived after `Store.close()`: the sandbox is stopping."""


class SortedView:
    """Rows sorted by (updated_time, id), rebuilt lazily after a change."""

    def __init__(self, rows: Callable[[], Iterable[Row]], id_field: str) -> None:
        self._rows = rows
        self._id = id_field
        self._sorted: list[Row] | None = None
        self._keys: list[tuple[str, str]] = []

    def invalidate(self) -> None:
        self._sorted = None

    def window(self, start: str | None, end: str | None) -> list[Row]:
        """Rows with start <= updated_time <= end (both inclusive, both optional)."""
        if self._sorted is None:
            self._sorted = sorted(self._rows(), key=lambda r: (r["updated_time"], r[self._id]))
            self._keys = [(r["updated_time"], r[self._id]) for r in self._sorted]
        lo = bisect_left(self._keys, (start, "")) if start else 0
        hi = bisect_right(self._keys, (end, "\U0010ffff")) if end else len(self._keys)
        return self._sorted[lo:hi]


class Store:
    """Activities, users and registrations, with the queries the API answers."""

    def __init__(self, dataset: Dataset, path: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.path = path
        self._dirty = False
        self._ids = IdMaker(random.Random())
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self.closed = False
        self.load(dataset)

    # -- loading and saving -------------------------------------------------------------

    def load(self, dataset: Dataset) -> None:
        """Replace every row (start-up and `/_sandbox/reset` with data)."""
        with self.lock:
            self.activities: dict[str, Row] = {a["entity_uuid"]: a for a in dataset.activities}
            self.users: dict[str, Row] = {u["omni_user_uuid"]: u for u in dataset.users}
            self.registrations: dict[str, dict[str, Row]] = {a: {} for a in self.activities}
            for reg in dataset.registrations:
                self.registrations[reg["target_entity_uuid"]][reg["omni_user_uuid"]] = reg
            self._activity_view = SortedView(self.activities.values, "entity_uuid")
            self._user_view = SortedView(self.users.values, "omni_user_uuid")
            self._reg_views = {
                a: SortedView(regs.values, "jing_uuid") for a, regs in self.registrations.items()
            }
            self._dirty = True

    @staticmethod
    def read_file(path: Path) -> Dataset:
        """The data of a --db file; `DbFileError` names the file and what is wrong."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return Dataset(raw["activities"], raw["users"], raw["registrations"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DbFileError(
                f"cannot load --db {path}: {type(exc).__name__}: {exc} "
                "(move it away to start from seeded data)"
            ) from exc

    def snapshot(self) -> Dataset:
        """Shallow copies of every row, taken under the lock (nested values are never mutated)."""
        with self.lock:
            return Dataset(
                [dict(a) for a in self.activities.values()],
                [dict(u) for u in self.users.values()],
                [dict(r) for regs in self.registrations.values() for r in regs.values()],
            )

    def save(self) -> None:
        """Write the --db file now if anything changed since the last write."""
        if self.path is None:
            return
        with self.lock:
            if not self._dirty:
                return
            self._dirty = False
            data = self.snapshot()
        text = json_bytes(
            {
                "version": 1,
                "activities": data.activities,
                "users": data.users,
                "registrations": data.registrations,
            }
        )
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(text)
        os.replace(tmp, self.path)

    def start_flusher(self) -> None:
        """Persist changes in the background (only with a --db path)."""
        if self.path is None or self._flusher is not None:
            return
        self.save()
        self._flusher = threading.Thread(target=self._flush_loop, name="db-flush", daemon=True)
        self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.save()

    def close(self) -> None:
        """Refuse writes from now on, then write the file a last time.

        A request still being served while the server stops must not be answered
        "applied" for a change the file will never hold: after this, writes raise
        `StoreClosed`, and every write answered before it is in the final save.
        """
        with self.lock:
            self.closed = True
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=10)
        self.save()

    # -- queries --------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {
                "activities": len(self.activities),
                "users": len(self.users),
                "registrations": sum(len(r) for r in self.registrations.values()),
            }

    def page(
        self,
        listing: str,
        start: str | None,
        end: str | None,
        page: int,
        page_size: int,
        entity_uuid: str = "",
    ) -> tuple[int, list[Row]] | None:
        """(total, items) of one page of `listing`: "activities", "users" or "registrations".

        None when the activity of a registration listing does not exist. Items are
        copies made under the lock, so a concurrent update never shows half-applied.
        """
        with self.lock:
            if listing == "registrations":
                view = self._reg_views.get(entity_uuid)
                if view is None:
                    return None
            else:
                view = self._activity_view if listing == "activities" else self._user_view
            rows = view.window(start, end)
            first = (page - 1) * page_size
            chunk = rows[first : first + page_size]
            return len(rows), [{k: v for k, v in r.items() if k not in DETAIL_ONLY} for r in chunk]

    def activity(self, entity_uuid: str) -> Row | None:
        with self.lock:
            row = self.activities.get(entity_uuid)
            return None if row is None else dict(row)

    def all_registrations(self, entity_uuid: str | None = None) -> list[Row]:
        with self.lock:
            groups = (
                [self.registrations.get(entity_uuid, {})]
                if entity_uuid
                else self.registrations.values()
            )
            return [dict(r) for regs in groups for r in regs.values()]

    # -- writes ---------------------------------------------------------------------------

    def update_statuses(
        self, entity_uuid: str, user_ids: list[str], changes: dict[str, str]
    ) -> list[Row] | None:
        """Apply `changes` to each registered user; None for an unknown activity.

        Unregistered users are skipped (absent from the answer). Any change stamps
        `updated_time` with now, so incremental extraction sees the row again.
        """
        now = now_text()
        with self.lock:
            self._check_open()
            regs = self.registrations.get(entity_uuid)
            if regs is None:
                return None
            echoed = []
            for user_id in dict.fromkeys(user_ids):
                row = regs.get(user_id)
                if row is None:
                    continue
                if changes:
                    row.update(changes)
                    row["updated_time"] = now
                echoed.append({f: row[f] for f in ECHO_FIELDS})
            if changes and echoed:
                self._reg_views[entity_uuid].invalidate()
                self._dirty = True
            return echoed

    def register(self, entity_uuid: str, user_ids: list[str]) -> list[Row] | None:
        """Register users (creating unknown ones); None for an unknown activity."""
        now = now_text()
        with self.lock:
            self._check_open()
            regs = self.registrations.get(entity_uuid)
            if regs is None:
                return None
            for user_id in dict.fromkeys(user_ids):
                if user_id not in self.users:
                    self.users[user_id] = new_user(user_id, now)
                    self._user_view.invalidate()
                if user_id not in regs:
                    regs[user_id] = new_registration(self._ids.new(), entity_uuid, user_id, now)
            activity = self.activities[entity_uuid]
            activity["registration_count"] = len(regs)
            activity["updated_time"] = now
            self._activity_view.invalidate()
            self._reg_views[entity_uuid].invalidate()
            self._dirty = True
            return [dict(regs[u]) for u in dict.fromkeys(user_ids)]

    def _check_open(self) -> None:
        if self.closed:
            raise StoreClosed("the sandbox is stopping; the change was not made")
