"""Answer parsing and page-loop detection as pure functions (the wire cases are in test_faults)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from jing_client import (
    ErrorCodes,
    JingError,
    JingMalformedResponse,
    JingRateLimited,
    JingTransientError,
)
from jing_client.client import EXCERPT_CHARS, Envelope, parse_envelope
from jing_client.pages import Page, Repeat, read_page, read_pages, repeats_itself
from jing_client.redact import register_secret

PATH = "/v1/activity/list"
CODES = ErrorCodes()


def _body(**fields: object) -> bytes:
    return json.dumps({"request_id": "a" * 32, "timestamp": 1, **fields}).encode()


def test_success_reads_msg_or_message() -> None:
    envelope = parse_envelope(200, {}, _body(code=0, message="ok", data=[1]), PATH, CODES)
    assert (envelope.code, envelope.msg, envelope.data, envelope.request_id) == (
        0,
        "ok",
        [1],
        "a" * 32,
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty body"),
        (b"<html>502 Bad Gateway</html>", "not the JSON envelope"),
        (b'{"code": 0, "msg": "success", "data": {"li', "not the JSON envelope"),
        (b'["code", 0]', "not the JSON envelope"),
        (b'{"code": "0"}', "not the JSON envelope"),
    ],
)
def test_bodies_that_are_not_the_envelope(content: bytes, reason: str) -> None:
    with pytest.raises(JingMalformedResponse) as caught:
        parse_envelope(200, {}, content, PATH, CODES)
    assert reason in str(caught.value)
    assert caught.value.http_status == 200
    assert caught.value.excerpt == content.decode()[:EXCERPT_CHARS]


def test_excerpt_is_short_and_redacted() -> None:
    secret = "0123456789abcdef0123456789abcdef"
    register_secret(secret)
    content = (secret + "x" * 500).encode()
    with pytest.raises(JingMalformedResponse) as caught:
        parse_envelope(200, {}, content, PATH, CODES)
    assert len(caught.value.excerpt) <= EXCERPT_CHARS
    assert secret not in str(caught.value)


def test_http_429_carries_retry_after() -> None:
    with pytest.raises(JingRateLimited) as caught:
        parse_envelope(429, {"Retry-After": "3"}, b"busy", PATH, CODES)
    assert caught.value.retry_after == 3.0


def test_retry_after_as_an_http_date_is_read_as_seconds_from_now() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    past = "Wed, 21 Oct 2015 07:28:00 GMT"
    waits = []
    for value in (later, past, "soon"):
        with pytest.raises(JingRateLimited) as caught:
            parse_envelope(429, {"Retry-After": value}, b"busy", PATH, CODES)
        waits.append(caught.value.retry_after)
    assert 25 <= waits[0] <= 30
    assert waits[1:] == [0.0, None]


def test_http_5xx_is_transient_and_a_gateway_404_is_not() -> None:
    with pytest.raises(JingTransientError):
        parse_envelope(503, {}, b"<html>", PATH, CODES)
    with pytest.raises(JingError) as caught:
        parse_envelope(404, {}, b"<html>not found</html>", PATH, CODES)
    assert not caught.value.transient


def test_unknown_code_is_a_plain_error() -> None:
    with pytest.raises(JingError) as caught:
        parse_envelope(200, {}, _body(code=12345, msg="odd"), PATH, CODES)
    assert type(caught.value) is JingError
    assert (caught.value.code, caught.value.msg) == (12345, "odd")


def test_answer_text_that_no_utf8_holds_is_kept_escaped() -> None:
    """JSON can carry a lone surrogate (`json` reads it); no log file or ledger can."""
    body = b'{"request_id": "r\\ud800", "code": 40000, "msg": "bad \\udc00 value"}'
    with pytest.raises(JingError) as error:
        parse_envelope(200, {}, body, PATH, CODES)
    assert (error.value.msg, error.value.request_id) == ("bad \\udc00 value", "r\\ud800")
    str(error.value).encode("utf-8")  # whole and writable
    success = b'{"request_id": "\\ud800", "code": 0, "msg": "ok", "data": []}'
    assert parse_envelope(200, {}, success, PATH, CODES).request_id == "\\ud800"


def test_repeated_or_backward_pages_are_detected() -> None:
    seen: set[str] = set()
    assert repeats_itself(1, 0, [{"id": "a"}, {"id": "b"}], seen) is None
    assert repeats_itself(2, 1, [{"id": "c"}], seen) is None
    assert repeats_itself(3, 2, [{"id": "a"}, {"id": "b"}], seen) is Repeat.FIRST_ITEM
    assert repeats_itself(2, 2, [{"id": "d"}], seen) is Repeat.PAGE_NUMBER  # the same number
    assert repeats_itself(1, 2, [{"id": "e"}], seen) is Repeat.PAGE_NUMBER  # backwards


def _listing_answer(items: list[int], page: int | None, total: int) -> Envelope:
    data: dict[str, object] = {"total": total, "page_size": 10, "list": items}
    if page is not None:
        data["page"] = page
    return Envelope(data, 0, "success", "a" * 32, 200, None)


def test_a_page_fetched_ahead_that_repeats_because_the_listing_moved_is_read_on() -> None:
    """Page 3 is answered before a move of ten records, page 2 after it: page 3 repeats.

    No server here can be told to answer two concurrent pages in a chosen order, so
    the calls are a function that keeps the listing and orders the answers itself.
    """
    before, after = list(range(50)), list(range(10, 50)) + list(range(100, 110))
    page_3_answered = threading.Event()
    threads: dict[int, str] = {}

    def call(path: str, body: Mapping[str, Any]) -> Envelope:
        number = body["page"]
        threads[number] = threading.current_thread().name
        version = before
        if number == 2:
            assert page_3_answered.wait(10)
            version = after
        answer = _listing_answer(version[(number - 1) * 10 : number * 10], number, 50)
        if number == 3:
            page_3_answered.set()
        return answer

    pages = [page.items for page in read_pages(call, PATH, {}, 10, ahead=3)]
    assert pages[1] == pages[2] == list(range(20, 30))
    assert len(pages) == 5
    assert threads[4] == threads[5] == threading.main_thread().name, "read in turn after"


def test_a_server_that_ignores_the_page_is_caught_with_pages_fetched_ahead() -> None:
    def call(path: str, body: Mapping[str, Any]) -> Envelope:
        return _listing_answer(list(range(10)), None, 100)

    read: list[Page] = []
    with pytest.raises(JingMalformedResponse, match="repeats itself"):
        read.extend(read_pages(call, PATH, {}, 10, ahead=4))
    assert len(read) <= 2


def test_a_page_size_capped_by_the_server_is_the_one_that_counts() -> None:
    envelope = parse_envelope(
        200,
        {},
        _body(code=0, data={"total": 120, "page": 1, "page_size": 50, "list": [1] * 50}),
        PATH,
        CODES,
    )
    page = read_page(envelope, PATH, asked_page=1, asked_size=100)
    assert (page.page_size, page.total, len(page.items)) == (50, 120, 50)  # not a short page
