"""Who may use a PostgreSQL ledger at once: advisory locks, held for a run's whole life.

A DuckDB ledger file lets one run in at a time. On PostgreSQL the shards of one
write-back may overlap, and nothing else may: a run that is not sharded holds
its destination exclusively, and shard K of N holds its destination shared and
shard K of N exclusively. A run whose process dies loses its session and with it
its locks, so a lock that can be taken tells the next run that whoever held it
is gone, on any machine (a file lock could only tell that on one).

Shards of different counts (2 and 4) would overlap on the same activities, so a
shard also holds its count, shared, and refuses to start while shards of another
count hold theirs. A short "gate" lock, one per schema, makes that check, and the
first creation of the schema's tables, one run's work at a time (of any
destination); no run waits for another while it holds it.

The locks live on a psycopg connection of their own, in autocommit: the
ledger's session opens transactions and a reader opens a second session, and a
session lock must stay in one session that does nothing else. Every key is two
31-bit integers hashed from the ledger's schema and destination (`pg_locks` shows
them as classid and objid).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from jing_client import JingConfigError
from jing_client.redact import first_line
from target_jing.machine_faults import LedgerBusy
from target_jing.postgres_source import connect
from target_jing.shards import Shard
from target_jing.sources import SourceError

_DESTINATION, _GATE, _SETTLE = 0, 1, 2
#: How often a run waiting to settle dead runs looks whether its turn has come.
SETTLE_POLL_SECONDS = 0.1
#: The server's TCP keepalive for the lock session: idle seconds, then probes and their gap.
KEEPALIVE = {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}


def _key(*parts: object) -> int:
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


class LedgerLocks:
    """The advisory locks of one run on one destination of one PostgreSQL ledger."""

    def __init__(self, url: str, schema: str, destination: str, wait_seconds: float) -> None:
        try:
            self._con = connect(url, "setting 'ledger_url'")
        except SourceError as exc:
            raise JingConfigError(str(exc)) from None
        self._con.autocommit = True
        # 0 would mean "wait for ever" to PostgreSQL; a millisecond is "do not wait".
        self._con.execute(f"SET lock_timeout = {max(1, round(wait_seconds * 1000))}")
        # A worker that vanishes without closing its connection (a pod lost with its
        # node) would keep its locks until the server's keepalive notices: about a
        # minute here, not the system's default of hours.
        for name, value in KEEPALIVE.items():
            self._con.execute(f"SET {name} = {value}")
        self._wait_seconds = wait_seconds
        self.destination = destination
        self._space = _key(schema, destination)
        #: The gate is the schema's, not the destination's: runs of two destinations may
        #: create the same tables at once, and PostgreSQL lets only one of them.
        self._schema_space = _key(schema)
        self._counts = _key(schema, destination, "shard counts")

    def close(self) -> None:
        """Release every lock: the session ends."""
        self._con.close()

    @contextmanager
    def entering(self, shard: Shard | None) -> Iterator[None]:
        """Take this run's locks, waiting for runs that hold them; then hold the gate for the
        block (the schema's first creation), which no other run is inside of."""
        if shard is None:
            self._wait("pg_advisory_lock", self._space, _DESTINATION, "another run is writing back")
        else:
            self._enter_shard(shard)
        with self._gate():
            yield

    @contextmanager
    def _gate(self) -> Iterator[None]:
        """A moment that one run at a time is in: held only for short work, never for a wait."""
        self._wait("pg_advisory_lock", self._schema_space, _GATE, "another run is starting")
        try:
            yield
        finally:
            self._con.execute("SELECT pg_advisory_unlock(%s, %s)", [self._schema_space, _GATE])

    def _enter_shard(self, shard: Shard) -> None:
        self._wait(
            "pg_advisory_lock_shared",
            self._space,
            _DESTINATION,
            "a run that is not sharded is writing back",
        )
        with self._gate():  # two counts checked at once would each see no other
            self._wait("pg_advisory_lock_shared", self._counts, shard.count, "")
            others = self._con.execute(
                """
                SELECT DISTINCT objid::bigint FROM pg_locks
                WHERE locktype = 'advisory' AND granted AND objsubid = 2
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND classid::bigint = %s AND objid::bigint <> %s
                """,
                [self._counts, shard.count],
            ).fetchall()
        if others:
            counts = ", ".join(str(row[0]) for row in others)
            raise JingConfigError(
                f"--shard {shard}: shards of another count ({counts}) are writing back to "
                f"{self.destination} now; shards that run at once must all be K/{shard.count}, "
                f"or all K/{counts}, so that each activity is in one shard only"
            )
        self._wait(
            "pg_advisory_lock",
            self._shard_space(shard.count),
            shard.index,
            f"another run of shard {shard} is writing back",
        )

    @contextmanager
    def settling(self) -> Iterator[None]:
        """One run at a time looks for the destination's dead runs and settles them.

        Shards that start together find the same dead run; settled by two at once,
        PostgreSQL refuses the second ("could not serialize access"). The others
        wait their turn, however long the holder takes (it is a live run doing
        finite work, and its death frees the lock), then find the run settled.
        """
        key = [self._space, _SETTLE]
        while not self._con.execute("SELECT pg_try_advisory_lock(%s, %s)", key).fetchone()[0]:
            time.sleep(SETTLE_POLL_SECONDS)
        try:
            yield
        finally:
            self._con.execute("SELECT pg_advisory_unlock(%s, %s)", key)

    def holds_alone(self, shard: Shard) -> bool:
        """Take shard `shard`'s lock if no run holds it (its last run is dead); keep it."""
        row = self._con.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", [self._shard_space(shard.count), shard.index]
        ).fetchone()
        return bool(row and row[0])

    def let_go(self, shard: Shard) -> None:
        """Release a shard lock that `holds_alone` took."""
        self._con.execute(
            "SELECT pg_advisory_unlock(%s, %s)", [self._shard_space(shard.count), shard.index]
        )

    @contextmanager
    def sending(self, shard: Shard) -> Iterator[None]:
        """Mark shard `shard` as sending (a lock of its own) for the block."""
        key = [self._sending_space(shard.count), shard.index]
        self._con.execute("SELECT pg_advisory_lock(%s, %s)", key)
        try:
            yield
        finally:
            self._con.execute("SELECT pg_advisory_unlock(%s, %s)", key)

    def sending_shards(self, count: int) -> int:
        """How many shards of `count` are sending now (this one included)."""
        row = self._con.execute(
            """
            SELECT count(*) FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND objsubid = 2
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND classid::bigint = %s
            """,
            [self._sending_space(count)],
        ).fetchone()
        return int(row[0]) if row else 1

    def _shard_space(self, count: int) -> int:
        return _key(self._space, "shards of", count)

    def _sending_space(self, count: int) -> int:
        return _key(self._space, "sending shards of", count)

    def _wait(self, function: str, space: int, key: int, holder: str) -> None:
        """Call the locking `function`, waiting at most `LOCK_WAIT_SECONDS`."""
        try:
            self._con.execute(f"SELECT {function}(%s, %s)", [space, key])
        except psycopg.errors.LockNotAvailable:
            raise LedgerBusy(
                f"setting 'ledger_url': {holder or 'another run holds the ledger'} "
                f"({self.destination}); waited {self._wait_seconds:g} s for it to end "
                "(ledger_lock_wait_seconds). Runs of "
                "one destination and shard never overlap"
            ) from None
        except psycopg.Error as exc:
            raise JingConfigError(f"setting 'ledger_url': cannot lock: {first_line(exc)}") from None
