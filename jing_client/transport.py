"""One HTTP POST to the API's one host, through urllib3's connection pool directly.

requests costs about 1.4 ms of CPU a call in its own layers (session hooks,
adapters, cookie jars, header merging, response objects): more than the rest of
a page. Every call of a client goes to the one host of `base_url`, with a JSON
body, no cookies and no redirects, so those layers buy nothing here; urllib3,
which requests runs on, is called directly, one pool of keep-alive connections
shared by the client's threads.

Kept as requests did them, and read once, when the client is made (a change to
the environment later is not seen):
- TLS verification, against certifi's bundle or the one REQUESTS_CA_BUNDLE or
  CURL_CA_BUNDLE names (a file or a folder);
- the proxy the environment gives for the host (HTTPS_PROXY, ALL_PROXY,
  NO_PROXY, ..., by requests' own rules), with its credentials;
- credentials in ~/.netrc for the host;
- redirects never followed: one would carry the secret and the token to
  wherever it points; the 3xx answer is returned as it is;
- the connect and read timeouts.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import certifi
import urllib3

#: Headers of every call (a call's own come on top).
BASE_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": "jing-connectors",
}


class Transport:
    """POSTs JSON to one host over a pool of `pool_size` keep-alive connections.

    Without a proxy, calls go to the host's connection pool itself: the pool
    manager's own layers (reading the URL, finding the pool, merging headers)
    cost a fifth of a call's CPU and choose the same pool every time.
    """

    def __init__(self, base_url: str, pool_size: int, timeout: tuple[float, float]) -> None:
        self._base_url = base_url.rstrip("/")
        #: The request target of each path: `base_url`'s own path, then the call's.
        self._prefix = urlsplit(self._base_url).path
        #: What verifies the server's certificate: True (certifi's bundle) or a path.
        self.verify: bool | str = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        proxy, auth = _from_environment(base_url)
        #: The proxy that calls go through (None: straight to the host).
        self.proxy: str | None = proxy
        self._pool = _pool(self.proxy, pool_size, self.verify)
        self._headers = dict(BASE_HEADERS)
        if auth:
            self._headers |= urllib3.make_headers(basic_auth=":".join(auth))
        self._timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        self._host_pool: urllib3.HTTPConnectionPool | None = None

    def post(
        self, path: str, body: Mapping[str, Any], headers: Mapping[str, str]
    ) -> urllib3.BaseHTTPResponse:
        """Send `body` as JSON to `base_url` + `path`; the answer's headers are read, its
        body not yet (`read_body`).

        Raises urllib3's errors as they come: nothing is retried here.
        """
        options: dict[str, Any] = {
            "body": json.dumps(body, allow_nan=False).encode(),
            "headers": {**self._headers, **headers},
            "timeout": self._timeout,
            "redirect": False,
            "retries": False,
            "preload_content": False,
        }
        if self.proxy is not None:
            return self._pool.request("POST", self._base_url + path, **options)
        if self._host_pool is None:
            self._host_pool = self._pool.connection_from_url(self._base_url)
        return self._host_pool.urlopen("POST", self._prefix + path, **options)

    def close(self) -> None:
        self._pool.clear()
        self._host_pool = None


def read_body(response: urllib3.BaseHTTPResponse) -> bytes:
    """The whole body, decoded (gzip, deflate); the connection goes back to the pool."""
    try:
        return response.read(decode_content=True)
    finally:
        response.release_conn()


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


def _pool(proxy: str | None, pool_size: int, verify: bool | str) -> urllib3.PoolManager:
    tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED"}
    if isinstance(verify, str) and os.path.isdir(verify):
        tls["ca_cert_dir"] = verify
    else:
        tls["ca_certs"] = verify if isinstance(verify, str) else certifi.where()
    if proxy is None:
        return urllib3.PoolManager(maxsize=pool_size, **tls)
    if "://" not in proxy:
        proxy = "http://" + proxy  # as requests reads `HTTPS_PROXY=host:port`
    parts = urlsplit(proxy)
    proxy_headers = None
    if parts.username:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        proxy_headers = urllib3.make_headers(proxy_basic_auth=credentials)
    return urllib3.ProxyManager(proxy, proxy_headers=proxy_headers, maxsize=pool_size, **tls)
