"""TLS: the server's certificate is verified, against certifi's bundle or REQUESTS_CA_BUNDLE.

A TLS front on loopback, with a certificate from a test CA (trustme), passes each
request on to the sandbox and notes it. A certificate that is not trusted, or that
names another host, ends the call before any request is sent: nothing reaches the
front, and the client says which host and which setting. Behind a proxy, an https
`base_url` is tunnelled (CONNECT) with the proxy's credentials, TLS end to end.
"""

from __future__ import annotations

import base64
import os
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme
from client_helpers import relay_post

from jing_client import JingClient, JingConfigError
from jing_sandbox.process import SandboxProcess


class TlsFront(ThreadingHTTPServer):
    """HTTPS on 127.0.0.1 for `hostname`'s certificate; forwards each POST to `upstream`."""

    daemon_threads = True

    def __init__(self, ca: trustme.CA, hostname: str, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(hostname).configure_cert(context)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.upstream = upstream
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}"


class _Forward(BaseHTTPRequestHandler):
    server: TlsFront

    def do_POST(self) -> None:
        self.server.paths.append(self.path)
        relay_post(self, self.server.upstream + self.path)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads `paths`."""


class TunnelProxy(ThreadingHTTPServer):
    """An HTTP proxy that only tunnels (CONNECT): notes each target and its credentials,
    then passes bytes both ways, TLS included, unread."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Tunnel)
        self.connects: list[tuple[str, str | None]] = []

    @property
    def port(self) -> int:
        return self.server_address[1]


class _Tunnel(BaseHTTPRequestHandler):
    server: TunnelProxy

    def do_CONNECT(self) -> None:
        self.server.connects.append((self.path, self.headers.get("Proxy-Authorization")))
        host, port = self.path.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as upstream:
            self.send_response(200, "Connection established")
            self.end_headers()
            ends = [self.connection, upstream]
            while readable := select.select(ends, [], [], 10)[0]:
                for end in readable:
                    data = end.recv(65536)
                    if not data:
                        return
                    (upstream if end is self.connection else self.connection).sendall(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads `connects`."""


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def front_for(sandbox: SandboxProcess, ca: trustme.CA) -> Iterator[Callable[[str], TlsFront]]:
    """Start a TLS front before the sandbox, with a certificate for the hostname given."""
    fronts: list[TlsFront] = []

    def start(hostname: str) -> TlsFront:
        front = TlsFront(ca, hostname, sandbox.url)
        threading.Thread(target=front.serve_forever, daemon=True).start()
        fronts.append(front)
        return front

    yield start
    for front in fronts:
        front.shutdown()
        front.server_close()


@pytest.fixture
def ca_bundle(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def _users(client: JingClient) -> int:
    return sum(len(page.items) for page in client.iter_pages("/v1/user/list", {}, page_size=100))


def test_a_certificate_of_the_ca_named_by_requests_ca_bundle_is_trusted(
    sandbox: SandboxProcess,
    front_for: Callable[[str], TlsFront],
    ca_bundle: str,
    client_factory: Callable[..., JingClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    front = front_for("127.0.0.1")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_bundle)
    client = client_factory(sandbox, base_url=front.url)
    assert _users(client) == sandbox.counts()["users"]
    assert front.paths[0] == "/v1/oauth2/token" and "/v1/user/list" in front.paths


@pytest.mark.parametrize(
    ("hostname", "trusted"), [("127.0.0.1", False), ("other.example.test", True)]
)
def test_an_untrusted_or_misnamed_certificate_stops_the_call_before_any_request(
    hostname: str,
    trusted: bool,
    sandbox: SandboxProcess,
    front_for: Callable[[str], TlsFront],
    ca_bundle: str,
    client_factory: Callable[..., JingClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Certifi's bundle does not know the test CA; a trusted CA's certificate for another
    host does not name 127.0.0.1. Either is a config error, not retried, and no secret
    or request reaches the server."""
    front = front_for(hostname)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    if trusted:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_bundle)
    else:
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    client = client_factory(sandbox, base_url=front.url, max_attempts=5)
    with pytest.raises(JingConfigError, match=r"certificate of 127\.0\.0\.1 was refused") as error:
        _users(client)
    assert "REQUESTS_CA_BUNDLE" in str(error.value)
    assert front.paths == []


@pytest.fixture
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [n for n in os.environ if n.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    return monkeypatch


def test_an_https_base_url_is_tunnelled_through_the_proxy_with_its_credentials(
    sandbox: SandboxProcess,
    front_for: Callable[[str], TlsFront],
    ca_bundle: str,
    client_factory: Callable[..., JingClient],
    no_proxy_variables: pytest.MonkeyPatch,
) -> None:
    """HTTPS_PROXY names an http:// proxy with a user: each connection is a CONNECT to
    the API's host with those credentials, and TLS (checked as ever) runs through it."""
    front = front_for("127.0.0.1")
    proxy = TunnelProxy()
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        no_proxy_variables.setenv("HTTPS_PROXY", f"http://jing:p%40ss@127.0.0.1:{proxy.port}")
        no_proxy_variables.setenv("REQUESTS_CA_BUNDLE", ca_bundle)
        client = client_factory(sandbox, base_url=front.url)
        assert _users(client) == sandbox.counts()["users"]
    finally:
        proxy.shutdown()
        proxy.server_close()
    credentials = "Basic " + base64.b64encode(b"jing:p@ss").decode()
    assert proxy.connects and set(proxy.connects) == {(front.url[len("https://") :], credentials)}
    assert front.paths[0] == "/v1/oauth2/token" and "/v1/user/list" in front.paths


def test_an_https_proxy_for_an_https_base_url_is_a_config_error(
    sandbox: SandboxProcess,
    client_factory: Callable[..., JingClient],
    no_proxy_variables: pytest.MonkeyPatch,
) -> None:
    no_proxy_variables.setenv("HTTPS_PROXY", "https://proxy.example.test:3129")
    with pytest.raises(JingConfigError, match=r"proxy\.example\.test is an https:// proxy"):
        client_factory(sandbox, base_url="https://127.0.0.1:9")
