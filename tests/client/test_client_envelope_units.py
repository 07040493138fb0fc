"""Answer parsing and page-loop detection as pure functions (the wire cases are in test_faults)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from jing_client import (
    ErrorCodes,
    JingError,
    JingMalformedResponse,
    JingRateLimited,
    JingTransientError,
)
from jing_client.client import EXCERPT_CHARS, parse_envelope
from jing_client.pages import read_page, repeats_itself
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


def test_repeated_or_backward_pages_are_detected() -> None:
    seen: set[str] = set()
    assert not repeats_itself(1, 0, [{"id": "a"}, {"id": "b"}], seen)
    assert not repeats_itself(2, 1, [{"id": "c"}], seen)
    assert repeats_itself(3, 2, [{"id": "a"}, {"id": "b"}], seen)  # page 1 again
    assert repeats_itself(2, 2, [{"id": "d"}], seen)  # the same page number
    assert repeats_itself(1, 2, [{"id": "e"}], seen)  # backwards


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
