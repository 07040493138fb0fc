"""One HTTP POST to the API's one host, on keep-alive connections of the standard library.

requests costs about 1.4 ms of CPU a call in its own layers (session hooks,
adapters, cookie jars, header merging, response objects), and urllib3 alone,
which requests runs on, about 0.1 ms more than `http.client` (its pool, retry
and timeout objects, a second write for every body). Every call of a client goes
to the one host of `base_url`, with a small JSON body, no cookies and no
redirects, so `http.client` connections are kept in a small pool here, one per
thread at a time, and reused while the server keeps them open. `http.client`
opens them (TLS, the proxy's tunnel); the request and its answer go over the
socket by `http_wire`, which costs about 0.12 ms of CPU a call less than
`http.client`'s request and response objects.

Kept as requests did them, and read once, when the client is made (a change to
the environment later is not seen):
- TLS verification, against certifi's bundle or the one REQUESTS_CA_BUNDLE or
  CURL_CA_BUNDLE names (a file or a folder), with the host name checked;
- the proxy the environment gives for the host (HTTPS_PROXY, ALL_PROXY,
  NO_PROXY, ..., by requests' own rules), with its credentials: an https
  `base_url` is tunnelled through it (CONNECT), an http one is sent to it whole;
- credentials in ~/.netrc for the host;
- redirects never followed: one would carry the secret and the token to
  wherever it points; the 3xx answer is returned as it is;
- the connect and read timeouts; gzip and deflate bodies decoded.

What went wrong is told by the exception's class (`TransportError`), because the
client's retry rules differ by it: no connection means the call was not sent.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import select
import socket
import ssl
import sys
import threading
import zlib
from collections.abc import Mapping
from typing import Any, BinaryIO, NamedTuple
from urllib.parse import unquote, urlsplit

import certifi

from jing_client import http_wire
from jing_client.errors import JingConfigError

#: Headers of every call (a call's own come on top).
BASE_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": "jing-connectors",
}


class TransportError(Exception):
    """A call that got no whole answer; `status` is the answer's, when its head came."""

    def __init__(self, cause: BaseException, status: int | None = None) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.status = status


class TlsRefused(TransportError):
    """The server's certificate was refused, or TLS could not be spoken with it."""


class NoConnection(TransportError):
    """No connection could be made (refused, no such host, connect timeout): not sent."""


class ReadTimedOut(TransportError):
    """The request was sent and no answer came within the read timeout."""


class ConnectionFailed(TransportError):
    """The connection failed after the request may have been sent, before the answer."""


class BodyCutOff(TransportError):
    """The answer's body ended before its length, or does not decode."""


class BodyDropped(TransportError):
    """The connection failed, or timed out, while the answer's body was read."""


class Answer(NamedTuple):
    """An HTTP answer, read whole."""

    status: int
    headers: http_wire.AnswerHeaders
    content: bytes


class Transport:
    """POSTs JSON to one host over up to `pool_size` idle keep-alive connections."""

    def __init__(self, base_url: str, pool_size: int, timeout: tuple[float, float]) -> None:
        self._base_url = base_url.rstrip("/")
        parts = urlsplit(self._base_url)
        https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if https else 80)
        self._host_header = http_wire.host_header(self._host, self._port, 443 if https else 80)
        #: The request target of each path: `base_url`'s own path, then the call's.
        self._prefix = parts.path
        #: What verifies the server's certificate: True (certifi's bundle) or a path.
        self.verify: bool | str = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        proxy, auth = _from_environment(base_url)
        #: The proxy that calls go through (None: straight to the host).
        self.proxy: str | None = proxy
        self._headers = dict(BASE_HEADERS)
        if auth:
            self._headers["authorization"] = _basic(*auth)
        self._connect_timeout, self._read_timeout = timeout
        self._route = _route(proxy, https, self._host, self._port)
        self._tls: ssl.SSLContext | None = None  # made at the first connection
        if self._route.whole_url:
            self._prefix = self._base_url
            self._headers |= self._route.proxy_headers
        self._pool_size = pool_size
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def post(self, path: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> Answer:
        """Send `body` as JSON to `base_url` + `path` and read the answer whole.

        Raises a `TransportError` when no whole answer came: nothing is retried here.
        """
        content = json.dumps(body, allow_nan=False).encode()
        request = http_wire.request_bytes(
            self._prefix + path, self._host_header, {**self._headers, **headers}, content
        )
        connection = self._sent(request)
        try:
            assert connection.sock is not None
            with connection.sock.makefile("rb") as reader:
                try:
                    head = http_wire.read_head(reader)
                except TimeoutError as exc:
                    raise ReadTimedOut(exc) from None
                except (http.client.HTTPException, OSError) as exc:
                    raise ConnectionFailed(exc) from None
                answer = Answer(head.status, head.headers, _read(reader, head))
        except BaseException:
            connection.close()
            raise
        if head.will_close:
            connection.close()
        else:
            self._give_back(connection)
        return answer

    def close(self) -> None:
        """Close the idle connections (the next call opens new ones)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _sent(self, request: bytes) -> http.client.HTTPConnection:
        """A connection with `request` written on it.

        An idle connection that the server closes between the check of `_take` and
        the writing (its idle timeout just passed) refuses the writing: the request
        did not reach the server, so it is written once more on a new connection.
        """
        connection, reused = self._take()
        while True:
            assert connection.sock is not None
            try:
                connection.sock.sendall(request)
                return connection
            except (BrokenPipeError, ConnectionResetError) as exc:
                connection.close()
                if not reused:
                    raise ConnectionFailed(exc) from None
            except TimeoutError as exc:
                connection.close()
                raise ReadTimedOut(exc) from None
            except OSError as exc:
                connection.close()
                raise ConnectionFailed(exc) from None
            connection, reused = self._connect(), False

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection the server has not closed, or a new one; and whether it
        was idle (reused)."""
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                return self._connect(), False
            if not _closed_by_server(connection):
                return connection, True
            connection.close()

    def _tls_context(self) -> ssl.SSLContext:
        """Certificates checked, host names too, against certifi's bundle or `verify`'s."""
        if self._tls is None:
            verify = self.verify
            try:
                if isinstance(verify, str) and os.path.isdir(verify):
                    self._tls = ssl.create_default_context(capath=verify)
                else:
                    bundle = verify if isinstance(verify, str) else certifi.where()
                    self._tls = ssl.create_default_context(cafile=bundle)
            except (OSError, ssl.SSLError) as exc:
                raise JingConfigError(
                    f"the CA bundle {verify} (REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE) cannot be "
                    f"read: {exc.strerror or exc}"
                ) from None
        return self._tls

    def _give_back(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self._pool_size:
                self._idle.append(connection)
                return
        connection.close()

    def _connect(self) -> http.client.HTTPConnection:
        """A new connection, open: to the host, to the proxy, or tunnelled through it."""
        route = self._route
        connection: http.client.HTTPConnection
        if route.tls:
            connection = http.client.HTTPSConnection(
                route.host, route.port, timeout=self._connect_timeout, context=self._tls_context()
            )
        else:
            connection = http.client.HTTPConnection(
                route.host, route.port, timeout=self._connect_timeout
            )
        if route.tunnel:
            connection.set_tunnel(self._host, self._port, headers=route.proxy_headers)
        try:
            connection.connect()
        except ssl.SSLError as exc:
            connection.close()
            raise TlsRefused(exc) from None
        except (http.client.HTTPException, OSError) as exc:
            connection.close()
            raise NoConnection(exc) from None
        assert connection.sock is not None
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.sock.settimeout(self._read_timeout)
        return connection


class _Route(NamedTuple):
    """Where connections go: to `host`:`port`, over TLS or not (`tls`); `tunnel`: on to
    the API's host through a proxy's CONNECT, TLS from end to end; else `whole_url`:
    requests name the whole URL, as an http proxy takes them. `proxy_headers` go with
    the CONNECT, or with every request to the proxy."""

    host: str
    port: int
    tls: bool
    tunnel: bool = False
    whole_url: bool = False
    proxy_headers: dict[str, str] = {}


def _route(proxy: str | None, https: bool, host: str, port: int) -> _Route:
    """How to reach `host`: straight, tunnelled through `proxy` (https), or via it (http)."""
    if proxy is None:
        return _Route(host, port, https)
    if "://" not in proxy:
        proxy = "http://" + proxy  # as requests reads `HTTPS_PROXY=host:port`
    parts = urlsplit(proxy)
    if https and parts.scheme == "https":
        raise JingConfigError(
            f"the proxy {parts.hostname} is an https:// proxy, and base_url is https: TLS "
            "inside TLS is not supported; give the proxy as http:// (the tunnel through it "
            "is TLS to the API's host all the same)"
        )
    headers = {}
    if parts.username:
        credentials = (unquote(parts.username), unquote(parts.password or ""))
        headers["Proxy-Authorization"] = _basic(*credentials)
    to_tls = parts.scheme == "https"
    proxy_port = parts.port or (443 if to_tls else 80)
    if https:
        return _Route(parts.hostname or "", proxy_port, True, tunnel=True, proxy_headers=headers)
    return _Route(parts.hostname or "", proxy_port, to_tls, whole_url=True, proxy_headers=headers)


def _read(reader: BinaryIO, head: http_wire.Head) -> bytes:
    """The whole body of the answer, decoded as its Content-Encoding says."""
    try:
        content = http_wire.read_body(reader, head)
    except http.client.IncompleteRead as exc:
        raise BodyCutOff(exc, head.status) from None
    except (http.client.HTTPException, OSError) as exc:
        raise BodyDropped(exc, head.status) from None
    listed = head.headers.joined("Content-Encoding") or ""
    encodings = [e.strip().lower() for e in listed.split(",")]
    try:
        for encoding in reversed(encodings):
            if encoding in ("gzip", "x-gzip"):
                content = zlib.decompress(content, 16 + zlib.MAX_WBITS)
            elif encoding == "deflate":
                content = _inflate(content)
    except zlib.error as exc:
        raise BodyCutOff(exc, head.status) from None
    return content


def _inflate(content: bytes) -> bytes:
    """A deflate body: zlib-wrapped as the standard says, or raw as some servers send it."""
    try:
        return zlib.decompress(content)
    except zlib.error:
        return zlib.decompress(content, -zlib.MAX_WBITS)


def _closed_by_server(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle connection can be read from: the server closed it (or sent what
    no request asked for), so a request on it would be lost."""
    sock = connection.sock
    if sock is None:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _from_environment(base_url: str) -> tuple[str | None, tuple[str, str] | None]:
    """The proxy and the netrc credentials for `base_url`, by requests' own rules.

    requests' helpers cost 20 ms of imports, so they are imported only when the
    environment could give either: a `*_proxy` variable (on Linux the only source
    of proxies; macOS and Windows have system settings too), a `NETRC` variable
    or a `~/.netrc` or `~/_netrc` file.
    """
    may_proxy = sys.platform in ("darwin", "win32") or any(
        name.lower().endswith("_proxy") for name in os.environ
    )
    may_netrc = "NETRC" in os.environ or any(
        os.path.exists(os.path.expanduser(f"~/{name}")) for name in (".netrc", "_netrc")
    )
    if not (may_proxy or may_netrc):
        return None, None
    import requests.utils  # only now: see above

    proxies = requests.utils.get_environ_proxies(base_url) if may_proxy else {}
    proxy = proxies.get(urlsplit(base_url).scheme) or proxies.get("all")
    return proxy, requests.utils.get_netrc_auth(base_url) if may_netrc else None
