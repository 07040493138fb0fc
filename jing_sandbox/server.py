"""HTTP/1.1 on the standard library: one thread per connection, keep-alive, no logging.

`http.server` gives full control of the socket, which the faults need (close without
an answer, announce a length and send half of it), and a thread per connection makes
"requests in flight" a true count.
"""

from __future__ import annotations

import contextlib
import json
import socket
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from jing_sandbox import admin
from jing_sandbox.app import JSON_TYPE, Reply, Sandbox
from jing_sandbox.json_text import json_bytes

IDLE_SECONDS = 120
MAX_BODY = 16 * 1024 * 1024


class SandboxServer(ThreadingHTTPServer):
    """A threading HTTP server that carries the `Sandbox` for its handlers."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        super().__init__((sandbox.settings.host, sandbox.settings.port), SandboxHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class SandboxHandler(BaseHTTPRequestHandler):
    """Reads a request, asks the sandbox, writes the `Reply` (or drops the socket)."""

    protocol_version = "HTTP/1.1"
    server_version = "jing-sandbox"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = IDLE_SECONDS
    server: SandboxServer

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: an access log would cost throughput and could show tokens in bodies."""

    def _serve(self, method: str) -> None:
        raw = self._read_body()
        if raw is None:
            return
        parts = urlsplit(self.path)
        sb = self.server.sandbox
        if parts.path.startswith(admin.PREFIX):
            status, answer = admin.handle(sb, method, parts.path, dict(parse_qsl(parts.query)), raw)
            body = json_bytes(answer)
            self._write(Reply(status, body, {"Content-Type": JSON_TYPE}))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        if method != "POST":  # the API is POST-only: GET /v1/... is an unknown endpoint
            parts = parts._replace(path=f"{method} {parts.path}")
        app = sb.app_of(headers, raw)
        in_flight = sb.limits.enter(app)
        try:
            reply = sb.business(parts.path, headers, raw, app, in_flight)
        finally:
            # Left before the answer goes: a client that has its answer (and resets the
            # stats) must not find its own call still counted in flight.
            sb.limits.leave(app)
        self._write(reply)

    def _read_body(self) -> bytes | None:
        """The request body by Content-Length; None (after a 400/413) when unreadable."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            body = json.dumps({"error": "bad or too large Content-Length"}).encode()
            self._write(Reply(400 if length < 0 else 413, body, {"Content-Type": JSON_TYPE}))
            return None
        return self.rfile.read(length) if length else b""

    def _write(self, reply: Reply) -> None:
        """Status line, headers and body in one `sendall`: two small writes per answer
        cost a third of the server's time (and invite Nagle/delayed-ACK stalls)."""
        if reply.action == "drop":
            self.close_connection = True
            self._hard_close()
            return
        body = reply.body
        lines = [
            f"{self.protocol_version} {reply.status} {HTTPStatus(reply.status).phrase}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            *(f"{name}: {value}" for name, value in reply.headers.items()),
            f"Content-Length: {len(body)}",
        ]
        if reply.action == "cutoff" or self.close_connection:
            lines.append("Connection: close")
            self.close_connection = True
        if reply.action == "cutoff":
            body = body[: max(1, len(body) // 2)]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + body)

    def _hard_close(self) -> None:
        """Close the socket without an answer, so the client sees a reset/closed connection."""
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
