"""`http_wire` reads every answer as `http.client` does, and writes a request it accepts.

The differential: the same bytes, sent on a socket pair, are read by `http.client`'s
own `HTTPResponse` and by `http_wire`; status, the headers the client reads, the
body (or the exception's class) and whether the connection closes must agree.
"""

from __future__ import annotations

import http.client
import socket
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jing_client import http_wire

#: The headers the client reads from an answer.
READ = ("Content-Encoding", "Retry-After", "Location", "Connection", "Content-Type")
#: Headers that change how an answer is framed or whether its connection stays.
OTHER_HEADERS = ("Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "X-Request-Id")
VALUES = ("close", "keep-alive", "gzip", "5", "a, Close", "", "chunked", "gzip, chunked")


def _socket_with(data: bytes) -> socket.socket:
    """The reading end of a socket pair whose other end wrote `data`, then closed."""
    reader, writer = socket.socketpair()
    reader.settimeout(5)
    writer.sendall(data)
    writer.close()
    return reader


def _by_http_client(data: bytes) -> tuple[Any, ...]:
    sock = _socket_with(data)
    try:
        response = http.client.HTTPResponse(sock, method="POST")
        try:
            response.begin()
        except Exception as exc:  # the class is what is compared
            return ("head", type(exc))
        head = (
            response.status,
            tuple(response.msg.get(name) for name in READ),
            response.getheader("Content-Encoding"),
        )
        try:
            body: Any = response.read()
        except Exception as exc:
            body = type(exc)
        return (*head, body, response.will_close)
    finally:
        sock.close()


def _by_http_wire(data: bytes) -> tuple[Any, ...]:
    sock = _socket_with(data)
    try:
        with sock.makefile("rb") as reader:
            try:
                head = http_wire.read_head(reader)
            except Exception as exc:
                return ("head", type(exc))
            seen = (
                head.status,
                tuple(head.headers.get(name) for name in READ),
                head.headers.joined("Content-Encoding"),
            )
            try:
                body: Any = http_wire.read_body(reader, head)
            except Exception as exc:
                body = type(exc)
            return (*seen, body, head.will_close)
    finally:
        sock.close()


@st.composite
def answers(draw: st.DrawFn) -> bytes:
    """An answer's bytes: any framing, right or wrong, and a body cut short or not."""
    version = draw(
        st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/0.9", "HTTP/1.2", "HTTP/2", "HTPP/1.1"])
    )
    space = draw(st.sampled_from([" ", "\t", "  "]))
    status = draw(
        st.sampled_from(["200", "204", "304", "404", "429", "500", "20", "abc", "0200", "+200"])
    )
    reason = draw(st.sampled_from([" OK", "", " Too Many Requests", " x y", "\tOK"]))
    body = draw(st.binary(max_size=300))
    headers = [
        f"{name}: {value}"
        for name, value in draw(
            st.lists(
                st.tuples(
                    st.sampled_from([*READ, *OTHER_HEADERS]),
                    st.sampled_from(VALUES),
                ),
                max_size=4,
            )
        )
    ]
    framing = draw(st.sampled_from(["length", "chunked", "none", "bad length"]))
    cut = draw(st.integers(min_value=0, max_value=20))
    if framing == "length":
        headers.append(f"Content-Length: {len(body) + draw(st.sampled_from([0, 0, 3, -3]))}")
    elif framing == "bad length":
        headers.append(f"Content-Length: {draw(st.sampled_from(['x', '-1', '', '1 2']))}")
    if framing == "chunked":
        headers.append(f"Transfer-Encoding: {draw(st.sampled_from(['chunked', 'Chunked']))}")
        pieces = [body[i : i + 97] for i in range(0, len(body), 97)]
        size = draw(st.sampled_from(["{:x}", "{:X}", "{:x};ext=1", "{:x} "]))
        payload = b"".join(size.format(len(p)).encode() + b"\r\n" + p + b"\r\n" for p in pieces)
        trailer = draw(st.sampled_from([b"", b"X-Trailer: 1\r\n"]))
        body = payload + b"0\r\n" + trailer + b"\r\n"
    if draw(st.booleans()):
        body = body[: max(0, len(body) - cut)]
    interim = draw(st.sampled_from([b"", b"HTTP/1.1 100 Continue\r\n\r\n"]))
    head = "\r\n".join([f"{version}{space}{status}{reason}", *headers]) + "\r\n\r\n"
    return interim + head.encode("latin-1") + body


@settings(max_examples=400, deadline=None)
@given(answers())
def test_an_answer_reads_as_http_client_reads_it(data: bytes) -> None:
    assert _by_http_wire(data) == _by_http_client(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",  # the server closed without an answer
        b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n",  # too many headers
        b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70000 + b"\r\n\r\n",  # a line too long
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"f" * 70000,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 9\r\n\r\nbody",
        b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\nKeep-Alive: timeout=5\r\n\r\nbody",
        b"HTTP/1.1 200 OK\r\nconnection: CLOSE\r\ncontent-length: 4\r\n\r\nbody",
    ],
)
def test_the_edges_read_as_http_client_reads_them(data: bytes) -> None:
    assert _by_http_wire(data) == _by_http_client(data)


def test_any_interim_answer_is_skipped_and_a_folded_header_is_unfolded() -> None:
    data = (
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After:\r\n  7\r\nContent-Length: 2\r\n\r\nok"
    )
    status, headers, _, body, will_close = _by_http_wire(data)
    assert (status, headers[1], body, will_close) == (429, "7", b"ok", False)


def test_a_request_is_written_as_http_client_writes_it() -> None:
    request = http_wire.request_bytes(
        "/v1/x?y=1", b"api.example.com", {"app_id": "7", "access_token": "t"}, b'{"a":1}'
    )
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1/x?y=1 HTTP/1.1"
    assert sorted(lines[1:]) == [
        b"Content-Length: 7",
        b"Host: api.example.com",
        b"access_token: t",
        b"app_id: 7",
    ]
    assert body == b'{"a":1}'


@pytest.mark.parametrize("value", ["a\r\nX-Evil: 1", "a\nb", "a\x00b", "a\rb"])
def test_a_header_value_with_a_line_break_is_refused_without_showing_the_value(
    value: str,
) -> None:
    with pytest.raises(ValueError, match="access_token") as error:
        http_wire.request_bytes("/v1/x", b"h", {"access_token": value}, b"")
    assert value not in str(error.value)


@pytest.mark.parametrize("target", ["/v1/x y", "/v1/x\r\nHost: evil", "/v1/\x7f"])
def test_a_request_target_with_a_space_or_control_character_is_refused(target: str) -> None:
    with pytest.raises(http.client.InvalidURL):
        http_wire.request_bytes(target, b"h", {}, b"")


@pytest.mark.parametrize(
    ("host", "port", "default", "expected"),
    [
        ("api.example.com", 443, 443, b"api.example.com"),
        ("127.0.0.1", 8080, 80, b"127.0.0.1:8080"),
        ("::1", 8443, 443, b"[::1]:8443"),
        ("bücher.example", 80, 80, b"xn--bcher-kva.example"),
    ],
)
def test_the_host_header_is_as_http_client_writes_it(
    host: str, port: int, default: int, expected: bytes
) -> None:
    assert http_wire.host_header(host, port, default) == expected
