"""Which records at the bookmark a previous run already emitted.

The API's `updated_start` filter is inclusive and to the second, so a run that
starts from a bookmark gets back the records whose `updated_time` equals it. They
were emitted by the run that set the bookmark; emitting them again would make a
re-run with unchanged data emit records. Moving the filter one second later is
not an answer: a record changed later within that same second would be lost.

So each stream (or partition) keeps, beside its bookmark, a digest of every
record it emitted at the bookmark's time (the "tail"). A record at exactly that
time whose digest is in the tail is skipped; a record at that time with other
content (it changed again within the same second) is emitted. The state holds
digests only, never record content.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: The key, in a stream's or partition's state, that holds its tail.
STATE_KEY = "emitted_at_bookmark"
#: Up to this many digests a tail is a readable list; past it (a bulk update within one
#: second), one packed string: 10 bytes a record in base64 (about 14 characters), so
#: even 100,000 records in a second keep the STATE message near 1.4 MB.
LISTED_DIGESTS = 1000
_DIGEST_BYTES = 10


def record_digest(record: Mapping[str, Any]) -> str:
    """A short, stable fingerprint of a record's content."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=_DIGEST_BYTES).hexdigest()


@dataclass
class Tail:
    """The digests of the records emitted at the newest replication value `value`."""

    value: str | None = None
    digests: set[str] = field(default_factory=set)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Tail:
        """The tail stored in a stream's or partition's state (empty when absent or unreadable).

        An unreadable tail only means that the next run emits its second's records again.
        """
        stored = state.get(STATE_KEY) or {}
        digests = set(stored.get("digests") or ())
        packed = stored.get("packed")
        if packed:
            try:
                raw = base64.b64decode(packed, validate=True)
            except (binascii.Error, ValueError, TypeError):
                raw = b""
            digests |= {
                raw[i : i + _DIGEST_BYTES].hex()
                for i in range(0, len(raw) - _DIGEST_BYTES + 1, _DIGEST_BYTES)
            }
        return cls(stored.get("value"), digests)

    def to_state(self) -> dict[str, Any]:
        """The JSON form stored in the state: every digest, listed or packed."""
        if len(self.digests) <= LISTED_DIGESTS:
            return {"value": self.value, "digests": sorted(self.digests)}
        raw = b"".join(bytes.fromhex(d) for d in sorted(self.digests))
        return {"value": self.value, "packed": base64.b64encode(raw).decode("ascii")}

    def holds(self, value: str | None, record: Mapping[str, Any]) -> bool:
        """Whether this exact record, at `value`, was already emitted."""
        return value is not None and value == self.value and record_digest(record) in self.digests

    def after(self, newer: Tail) -> Tail:
        """This tail once a run emitted `newer`: replaced by a later time, merged at the same."""
        if newer.value is None:
            return self
        if newer.value == self.value:
            return Tail(self.value, self.digests | newer.digests)
        return newer


class TailTracker:
    """Follows the records a run emits and keeps those at the newest time.

    Records are copied (shallowly) as they pass and hashed only at the end, so a
    sorted listing pays one digest per record of its final second, not per record.
    """

    def __init__(self) -> None:
        self._value: str | None = None
        self._records: list[dict[str, Any]] = []

    def add(self, value: str | None, record: Mapping[str, Any]) -> None:
        """Note an emitted record whose replication value is `value`."""
        if value is None:
            return
        if self._value is None or value > self._value:
            self._value = value
            self._records = []
        if value == self._value:
            self._records.append(dict(record))

    def tail(self) -> Tail:
        """The tail of what was added."""
        return Tail(self._value, {record_digest(r) for r in self._records})


class ShiftWatch:
    """Notices a listing that moved while it was read, and where re-reading must start.

    The API pages by offset through a list sorted by update time. A record updated
    while the tap reads moves to the end of the list: every record after its old
    place moves up one, and the one that crosses into a page already read is not
    seen in this run. The moved record itself shows up a second time, at the end.
    The skipped records sit after its first (older) place, so the bookmark must not
    pass that time: the next run then reads them.

    Pages fetched ahead (`jing_client.pages`) add a second way to move: a later page
    answered before the change and an earlier one after it. The later page then
    repeats records, behind the newest one listed, and records may be skipped at
    the start of any page that was in flight with it. Those pages lie within the
    last `reach` records (pages in flight at once times the page size), so the
    bookmark must not pass the oldest time among them either. A record behind the
    newest one is not emitted: it is a repeat, or it is read again by the next run.
    Deletions cannot be noticed this way.
    """

    def __init__(self, reach: int = 1) -> None:
        self._first_seen: dict[Any, str | None] = {}
        self._recent: deque[str | None] = deque(maxlen=max(1, reach))
        self._newest: str | None = None
        self.rewind_to: str | None = None

    def see(self, key: Any, value: str | None) -> bool:
        """Note a listed record by primary key and replication value; False if it is behind."""
        self._recent.append(value)
        seen_before = key in self._first_seen
        first = self._first_seen.setdefault(key, value)
        behind = value is not None and self._newest is not None and value < self._newest
        if seen_before or behind:
            self._rewind(first, value, *self._recent)
        if not behind and value is not None:
            self._newest = value
        return not behind

    def _rewind(self, *values: str | None) -> None:
        known = [value for value in values if value is not None]
        if self.rewind_to is not None:
            known.append(self.rewind_to)
        if known:
            self.rewind_to = min(known)
