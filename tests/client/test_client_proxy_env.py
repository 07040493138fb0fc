"""The proxy environment is honoured, and read once when the client is made, not per call.

A small forwarding HTTP proxy on loopback stands between the client and the sandbox:
it passes each request on unchanged and notes the path it carried.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from client_helpers import relay_post

from jing_client import JingClient
from jing_client.transport import Transport
from jing_sandbox.process import SandboxProcess

PROXY_VARIABLES = (
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NETRC",
)


class ForwardingProxy(ThreadingHTTPServer):
    """A plain-HTTP forward proxy that records the path of every request it forwards."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ProxyHandler(BaseHTTPRequestHandler):
    server: ForwardingProxy

    def do_POST(self) -> None:
        # A client talking to a proxy puts the absolute URL in the request line.
        self.server.paths.append(urllib.parse.urlsplit(self.path).path)
        relay_post(self, self.path)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads `paths`."""


@pytest.fixture
def plain_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An environment with no proxy, CA or netrc variables, and a home without a netrc."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in [name for name in os.environ if name.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    return monkeypatch


@pytest.fixture
def proxy(plain_environment: pytest.MonkeyPatch) -> Iterator[ForwardingProxy]:
    """A running proxy, in `plain_environment`."""
    server = ForwardingProxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def list_users(client: JingClient) -> int:
    return sum(len(page.items) for page in client.iter_pages("/v1/user/list", {}, page_size=100))


@pytest.mark.parametrize("no_proxy", [None, "127.0.0.1"])
def test_proxy_variables_route_the_calls(
    no_proxy: str | None,
    sandbox: SandboxProcess,
    proxy: ForwardingProxy,
    client_factory: Callable[..., JingClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP_PROXY carries every call (the token's too); NO_PROXY naming the host bypasses it."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    if no_proxy:
        monkeypatch.setenv("NO_PROXY", no_proxy)
    client = client_factory(sandbox)
    assert list_users(client) == sandbox.counts()["users"]
    if no_proxy:
        assert proxy.paths == []
    else:
        assert proxy.paths[0] == "/v1/oauth2/token"
        assert proxy.paths.count("/v1/user/list") == client.stats()["calls"] - 1


def test_environment_is_read_when_the_client_is_made_not_per_call(
    sandbox: SandboxProcess,
    proxy: ForwardingProxy,
    client_factory: Callable[..., JingClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    direct = client_factory(sandbox)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    proxied = client_factory(sandbox)
    users = sandbox.counts()["users"]
    assert list_users(direct) == users
    assert proxy.paths == []
    assert list_users(proxied) == users
    assert "/v1/user/list" in proxy.paths
    monkeypatch.delenv("HTTP_PROXY")
    before = len(proxy.paths)
    assert list_users(proxied) == users
    assert len(proxy.paths) > before


def test_ca_bundle_variables_set_verification(plain_environment: pytest.MonkeyPatch) -> None:
    monkeypatch = plain_environment
    assert _transport().verify is True
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/curl-bundle.pem")
    assert _transport().verify == "/etc/curl-bundle.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/requests-bundle.pem")
    assert _transport().verify == "/etc/requests-bundle.pem"


def test_the_proxy_is_the_environments_for_the_host(plain_environment: pytest.MonkeyPatch) -> None:
    monkeypatch = plain_environment
    assert _transport().proxy is None
    monkeypatch.setenv("HTTPS_PROXY", "http://user:pa%40ss@proxy.example.test:3128")
    assert _transport().proxy == "http://user:pa%40ss@proxy.example.test:3128"
    monkeypatch.setenv("NO_PROXY", "api.example.test")
    assert _transport().proxy is None


def _transport() -> Transport:
    return Transport("https://api.example.test", 1, (1.0, 1.0))


def test_netrc_credentials_for_the_host_are_sent(
    plain_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A `~/.netrc` entry for the API's host becomes Basic credentials; NETRC names another file."""
    (tmp_path / ".netrc").write_text("machine api.example.test login ann password s3cret\n")
    assert (
        _transport()._headers["authorization"]
        == "Basic " + base64.b64encode(b"ann:s3cret").decode()
    )
    other = tmp_path / "other-netrc"
    other.write_text("machine elsewhere.test login bob password x\n")
    plain_environment.setenv("NETRC", str(other))
    assert "authorization" not in _transport()._headers


def test_requests_is_not_imported_when_the_environment_configures_nothing(
    plain_environment: pytest.MonkeyPatch,
) -> None:
    """Its helpers cost 20 ms of every run's start: they load only for a proxy or a netrc."""
    probe = (
        "import sys; from jing_client.transport import Transport; "
        "t = Transport('https://api.example.test', 1, (1.0, 1.0)); "
        "print(t.proxy, 'requests' in sys.modules)"
    )

    def run() -> str:
        return subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout.split()

    assert run() == ["None", "False"]
    plain_environment.setenv("https_proxy", "http://proxy.example.test:3128")
    assert run() == ["http://proxy.example.test:3128", "True"]
