"""A listing that moves while its pages are in flight: what `ShiftWatch` must make true.

The API pages by offset through a list sorted by update time; a registration
updated while the tap reads moves to the end. With pages fetched ahead, the pages
of one listing may be answered on either side of that move, in any mix that the
pages in flight at once allow. These tests model the listing exactly (no HTTP: the
order in which a real server answers concurrent pages cannot be chosen) and try
every such mix. The sandbox-level cases are in test_tap_moving_listing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from tap_jing.bookmarks import ShiftWatch

SIZE = 5
PAGES = 6
#: The pages that `jing_client.pages.read_pages` may have in flight together with
#: `ahead` = 4: the one being read is already answered, so 3.
IN_FLIGHT = 3


@dataclass(frozen=True)
class Version:
    """One state of the listing: (key, updated_time) pairs sorted by time."""

    rows: tuple[tuple[str, str], ...]

    def page(self, number: int) -> tuple[tuple[str, str], ...]:
        return self.rows[number * SIZE : (number + 1) * SIZE]


def listing(count: int) -> Version:
    return Version(tuple((f"k{i:03}", f"2025-01-01T00:{i:02}:00") for i in range(count)))


def moved(before: Version, keys: list[str]) -> Version:
    """`keys` updated now: they leave their places and join the end, newest last."""
    stay = tuple(row for row in before.rows if row[0] not in keys)
    return Version(stay + tuple((key, f"2026-01-01T00:{n:02}:00") for n, key in enumerate(keys)))


def possible_mixes(pages: int) -> list[tuple[bool, ...]]:
    """Which pages were answered after the move, as concurrent fetching allows.

    A page answered before the move that comes after one answered after it was in
    flight with it, so the two are fewer than `IN_FLIGHT` pages apart.
    """
    mixes = []
    for mix in itertools.product((False, True), repeat=pages):
        if all(
            later - earlier < IN_FLIGHT
            for earlier, later in itertools.combinations(range(pages), 2)
            if mix[earlier] and not mix[later]
        ):
            mixes.append(mix)
    return mixes


def read(before: Version, after: Version, mix: tuple[bool, ...]) -> tuple[list, str | None]:
    """The records emitted by one run over the mixed pages, and where its bookmark ends."""
    watch = ShiftWatch(reach=(IN_FLIGHT + 1) * SIZE)
    emitted: list[tuple[str, str]] = []
    for number, answered_after in enumerate(mix):
        for key, value in (after if answered_after else before).page(number):
            if watch.see(key, value):
                emitted.append((key, value))
    newest = max((value for _, value in emitted), default=None)
    bookmark = newest if watch.rewind_to is None else min(newest, watch.rewind_to)
    return emitted, bookmark


MOVES = {
    "one record of the first page": ["k001"],
    "a whole page": [f"k{i:03}" for i in range(5, 10)],
    "more than a page, from two pages": [f"k{i:03}" for i in range(3, 10)],
    "records of a later page": ["k012", "k013"],
    "records far apart": ["k000", "k017", "k024"],
}


@pytest.mark.parametrize("keys", list(MOVES.values()), ids=list(MOVES))
def test_every_registration_is_emitted_now_or_read_by_the_next_run(keys: list[str]) -> None:
    before = listing(PAGES * SIZE - 2)
    after = moved(before, keys)
    mixes = possible_mixes(PAGES)
    assert len(mixes) > PAGES + 1, "the model allows answers out of order"
    for mix in mixes:
        emitted, bookmark = read(before, after, mix)
        values = [value for _, value in emitted]
        assert values == sorted(values), f"emitted out of order with {mix}"
        latest = dict(after.rows)
        got = dict(emitted)
        lost = [key for key, value in latest.items() if got.get(key) != value and value < bookmark]
        assert not lost, f"{lost} neither emitted as they are now nor after the bookmark ({mix})"


def test_a_listing_that_does_not_move_keeps_its_bookmark() -> None:
    before = listing(PAGES * SIZE - 2)
    emitted, bookmark = read(before, before, (False,) * PAGES)
    assert emitted == list(before.rows)
    assert bookmark == before.rows[-1][1]


def test_a_record_behind_the_newest_is_held_back_and_the_bookmark_goes_before_it() -> None:
    watch = ShiftWatch(reach=3)
    assert watch.see("a", "2025-01-01T00:00:01")
    assert watch.see("b", "2025-01-01T00:00:05")
    assert not watch.see("c", "2025-01-01T00:00:03")
    assert watch.rewind_to is not None and watch.rewind_to <= "2025-01-01T00:00:03"
    assert watch.see("d", "2025-01-01T00:00:05")
