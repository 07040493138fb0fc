"""The transport on the wire: keep-alive connections reused, closed ones replaced, bodies
decoded, and a CA bundle that cannot be read named.

A small HTTP/1.1 server on loopback answers every POST with one JSON body, encoded
as the test asks, and counts the connections it accepted.
"""

from __future__ import annotations

import gzip
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import jing_client.transport
from jing_client import JingConfigError
from jing_client.transport import BodyCutOff, Transport

DOCUMENT = {"code": 0, "msg": "ok", "data": {"list": ["a", "b"]}}
PLAIN = json.dumps(DOCUMENT).encode()


class OneAnswerServer(ThreadingHTTPServer):
    """Answers every POST with `DOCUMENT`, in `encoding`; with `close_after`, closes each
    connection after its answer without saying so (as a server's idle timeout does),
    with `reset_after` abruptly (a reset, not a close)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Answer)
        self.encoding = ""
        self.body = PLAIN
        #: How the body's end is told: "length", "chunked", or "close" (no length: the close).
        self.framing = "length"
        self.close_after = False
        self.reset_after = False
        self.connections = 0
        self.closed = 0
        self.requests: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        super().shutdown_request(request)
        self.closed += 1

    def wait_closed(self, count: int) -> None:
        deadline = time.monotonic() + 5
        while self.closed < count and time.monotonic() < deadline:
            time.sleep(0.005)
        assert self.closed >= count


class _Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: OneAnswerServer

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append(dict(self.headers.items()))
        body = self.server.body
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if self.server.encoding:
            self.send_header("Content-Encoding", self.server.encoding)
        framing = self.server.framing
        if framing == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
            pieces = [body[i : i + 7] for i in range(0, len(body), 7)]
            body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        elif framing == "length":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = (
            self.server.close_after or self.server.reset_after or framing == "close"
        )
        if self.server.reset_after:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads the server's counters."""


@pytest.fixture
def server() -> Iterator[OneAnswerServer]:
    running = OneAnswerServer()
    # A short poll: shutdown() waits for one, and the default (0.5 s) was most of each test.
    threading.Thread(target=running.serve_forever, args=(0.02,), daemon=True).start()
    yield running
    running.shutdown()
    running.server_close()


@pytest.fixture
def transport(server: OneAnswerServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Transport]:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    made = Transport(server.url, 2, (2.0, 5.0))
    yield made
    made.close()


def test_calls_one_after_another_share_one_connection(
    server: OneAnswerServer, transport: Transport
) -> None:
    answers = [transport.post("/v1/x", {"n": n}, {"app_id": "1"}) for n in range(5)]
    assert [(a.status, json.loads(a.content)) for a in answers] == [(200, DOCUMENT)] * 5
    assert server.connections == 1
    assert server.requests[0]["Accept-Encoding"] == "gzip, deflate"
    assert server.requests[0]["app_id"] == "1"


def test_a_connection_the_server_closed_while_idle_is_replaced_not_failed(
    server: OneAnswerServer, transport: Transport
) -> None:
    """The request on a closed connection would be lost: it goes on a new one instead."""
    server.close_after = True
    assert _each_after_the_close(server, transport, 5) == [DOCUMENT] * 5
    assert server.connections == 5


def test_a_request_refused_by_a_connection_reset_after_the_check_is_written_on_a_new_one(
    server: OneAnswerServer, transport: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server resets the idle connection just after the check (here: the check is
    blind): writing the request fails, so it never arrived, and it goes once on a new
    connection. The server sees each request once."""
    monkeypatch.setattr(jing_client.transport, "_closed_by_server", lambda connection: False)
    server.reset_after = True
    assert _each_after_the_close(server, transport, 3) == [DOCUMENT] * 3
    assert server.connections == 3 and len(server.requests) == 3


def _each_after_the_close(server: OneAnswerServer, transport: Transport, calls: int) -> list[Any]:
    """The documents of `calls` posts, each made once the server closed the one before's
    connection."""
    documents = []
    for n in range(calls):
        documents.append(json.loads(transport.post("/v1/x", {"n": n}, {}).content))
        server.wait_closed(n + 1)
    return documents


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as the standard says
        ("deflate", lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS)),  # raw
        ("", lambda data: data),
    ],
)
def test_a_compressed_body_is_decoded(
    encoding: str, encode: object, server: OneAnswerServer, transport: Transport
) -> None:
    server.encoding = encoding
    server.body = encode(PLAIN)  # type: ignore[operator]
    assert json.loads(transport.post("/v1/x", {}, {}).content) == DOCUMENT


@pytest.mark.parametrize(("framing", "connections"), [("chunked", 1), ("close", 3)])
def test_a_body_in_chunks_keeps_the_connection_and_one_without_length_ends_it(
    framing: str, connections: int, server: OneAnswerServer, transport: Transport
) -> None:
    """A chunked body (as a gateway that compresses on the fly sends it) is read whole
    and the connection is reused; a body told by the close is read to the close, and
    the next call opens a new connection."""
    server.framing = framing
    server.encoding = "gzip"
    server.body = gzip.compress(PLAIN)
    if framing == "close":
        documents = _each_after_the_close(server, transport, 3)
    else:
        documents = [json.loads(transport.post("/v1/x", {}, {}).content) for _ in range(3)]
    assert documents == [DOCUMENT] * 3
    assert server.connections == connections


def test_a_body_that_does_not_decode_is_cut_off(
    server: OneAnswerServer, transport: Transport
) -> None:
    server.encoding = "gzip"
    server.body = gzip.compress(PLAIN)[:-8]
    with pytest.raises(BodyCutOff) as error:
        transport.post("/v1/x", {}, {})
    assert error.value.status == 200


def test_a_ca_bundle_that_cannot_be_read_is_a_config_error_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-bundle.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(missing))
    made = Transport("https://127.0.0.1:9", 1, (1.0, 1.0))
    with pytest.raises(JingConfigError, match="REQUESTS_CA_BUNDLE") as error:
        made.post("/v1/x", {}, {})
    assert str(missing) in str(error.value)
