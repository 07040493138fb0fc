"""Reading a paged list endpoint (jing-api.md section 4), with pages fetched ahead.

A listing is read page after page until a short (or empty) page, never past
`total`. Once the first page has told the total, the later pages are known, so
`read_pages` may ask for up to `ahead` of them at once, on threads, and still
yields them strictly in page order: at 100 ms from the API one page at a time
uses half of a 20 calls/s budget. A server that answers another page than the
one asked for ends the fetching ahead; the rest is read one page at a time.

A page fetched ahead may begin with the item that began an earlier page when the
listing moved between their answers (`tap_jing.bookmarks.ShiftWatch` says what
that means for the bookmark). That page is yielded and the rest is read one page
at a time: in turn, only a server that ignores `page` repeats a page, and that
stops the read.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from jing_client.errors import EXCERPT_CHARS, JingMalformedResponse
from jing_client.redact import redact

if TYPE_CHECKING:
    from jing_client.client import Envelope


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint (jing-api.md section 4)."""

    items: list[Any]
    page: int
    page_size: int
    total: int | None

    def is_last(self) -> bool:
        """A short page ends the listing, and so does the page that reaches `total`."""
        return len(self.items) < self.page_size or (
            self.total is not None and self.page * self.page_size >= self.total
        )

    def last_page_number(self) -> int | None:
        """The number of the listing's last page, as `total` tells it (None when unknown)."""
        return None if self.total is None else math.ceil(self.total / self.page_size)


def read_pages(
    call: Callable[[str, Mapping[str, Any]], Envelope],
    path: str,
    body: Mapping[str, Any],
    size: int,
    ahead: int = 1,
) -> Iterator[Page]:
    """Every page of the listing at `path`, in order; up to `ahead` asked for at once.

    `call(path, body)` makes one call (with retries). A server that answers the
    same page again, or goes backwards, would loop forever: that raises
    `JingMalformedResponse` instead (for a page fetched ahead, at the next page).
    """
    seen_first_items: set[str] = set()
    last_page = 0
    page = 1
    window: deque[tuple[int, Future[Envelope]]] = deque()
    pool = ThreadPoolExecutor(ahead - 1, thread_name_prefix="jing-pages") if ahead > 1 else None

    def ask(number: int) -> Envelope:
        return call(path, {**body, "page": number, "page_size": size})

    try:
        while True:
            ahead_of_time = bool(window)
            if window:
                asked, future = window.popleft()
                envelope = future.result()
            else:
                asked, envelope = page, ask(page)
            answer = read_page(envelope, path, asked, size)
            repeat = repeats_itself(answer.page, last_page, answer.items, seen_first_items)
            if repeat is not None and not (repeat is Repeat.FIRST_ITEM and ahead_of_time):
                raise JingMalformedResponse(
                    f"the listing repeats itself: asked for page {asked}, got page "
                    f"{answer.page} after page {last_page}, or an item already seen first",
                    path=path,
                    http_status=envelope.http_status,
                    request_id=envelope.request_id,
                )
            last_page = answer.page
            yield answer
            if answer.is_last():
                return
            page = answer.page + 1
            if repeat is not None:
                # Fetched ahead, it was answered before an earlier page saw the listing
                # move; or the server ignores `page`. Asked in turn from here on, a
                # moving listing cannot repeat a page, and a server that ignores `page`
                # is caught at its next page.
                _cancel(window)
                _stop(pool)
                pool = None
            elif answer.page != asked:
                _cancel(window)
            elif pool is not None:
                _fill(window, pool, ask, first=page, last=answer.last_page_number(), ahead=ahead)
    finally:
        _cancel(window)
        _stop(pool)


def _fill(
    window: deque[tuple[int, Future[Envelope]]],
    pool: ThreadPoolExecutor,
    ask: Callable[[int], Envelope],
    *,
    first: int,
    last: int | None,
    ahead: int,
) -> None:
    """Ask for the pages after those in `window`, from `first` up to `last`, `ahead` at most.

    One page is always asked for by the caller itself (or is in the window), so the
    window holds `ahead - 1` besides: the one being read makes `ahead`.
    """
    if last is None:
        return
    number = window[-1][0] + 1 if window else first
    while len(window) < ahead - 1 and number <= last:
        window.append((number, pool.submit(ask, number)))
        number += 1


def _stop(pool: ThreadPoolExecutor | None) -> None:
    """Stop `pool` (if any) without waiting for the calls it has made."""
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def _cancel(window: deque[tuple[int, Future[Envelope]]]) -> None:
    for _, future in window:
        future.cancel()
    window.clear()


def read_page(envelope: Envelope, path: str, asked_page: int, asked_size: int) -> Page:
    """The `Page` of a list answer (jing-api.md section 4).

    A server that serves fewer items a page than asked says so in `page_size`;
    that smaller size, not the one asked for, tells a short (last) page apart.
    """
    data = envelope.data
    if not isinstance(data, dict) or not isinstance(data.get("list"), list):
        raise JingMalformedResponse(
            "list answer has no data.list",
            excerpt=redact(json.dumps(data, default=str))[:EXCERPT_CHARS],
            path=path,
            http_status=envelope.http_status,
            request_id=envelope.request_id,
        )
    page, size, total = data.get("page"), data.get("page_size"), data.get("total")
    return Page(
        items=data["list"],
        page=page if _is_count(page) else asked_page,
        page_size=size if _is_count(size) and 0 < size < asked_size else asked_size,
        total=total if _is_count(total) else None,
    )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class Repeat(Enum):
    """How a page repeats an earlier one."""

    #: The page number did not move on.
    PAGE_NUMBER = "page number"
    #: The page began with an item that began an earlier page.
    FIRST_ITEM = "first item"


def repeats_itself(
    answered_page: int, last_page: int, items: list[Any], seen_first_items: set[str]
) -> Repeat | None:
    """How a page repeats an earlier one, or None.

    Records this page's first item in `seen_first_items` when it does not repeat.
    """
    if answered_page <= last_page:
        return Repeat.PAGE_NUMBER
    if not items:
        return None
    first = json.dumps(items[0], sort_keys=True, default=str)
    if first in seen_first_items:
        return Repeat.FIRST_ITEM
    seen_first_items.add(first)
    return None
