"""Credentials cannot leave: no redirect is followed, base_url means one host, TLS fails closed.

Each test runs the real command lines in child processes against servers on
127.0.0.1; the "elsewhere" a redirect points to is a second local listener that
records whatever reaches it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from surface_helpers import run_target, write_config

from jing_client import ClientSettings, JingConfigError
from jing_sandbox.process import SandboxProcess
from jing_singer import exit_codes

TAP_JING = str(Path(sys.executable).parent / "tap-jing")
SECRET = "5a4d0b0e5e1f4c7c9d3b2a1f0e9d8c7b"


class Recorder:
    """A loopback HTTP server that records every request; answers as `answer` says."""

    def __init__(self, status: int = 200, location: str | None = None) -> None:
        self.requests: list[dict[str, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                recorder.requests.append({"path": self.path, "body": body, **self.headers})
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def elsewhere() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_an_error_naming_the_host_and_nothing_reaches_it(
    status: int, elsewhere: Recorder, tmp_path: Path
) -> None:
    redirecting = Recorder(status, location=f"{elsewhere.url.replace('127.0.0.1', 'localhost')}/x")
    try:
        config = {"app_id": "100000000000000000000000001", "app_secret": SECRET}
        config["base_url"] = redirecting.url
        write_config(tmp_path / "c.json", config)
        rows = tmp_path / "rows.csv"
        rows.write_text("activity_id,user_id,approve_status\na1,u1,1\n")
        done = run_target("sync", "--config", "c.json", "--file", str(rows), cwd=tmp_path)
        tap = run_tap_in(tmp_path)
    finally:
        redirecting.close()
    assert elsewhere.requests == []
    for run in (done, tap):
        assert run.returncode == exit_codes.BAD_INPUT, run.stderr[-2000:]
        assert "redirected" in run.stderr and "localhost" in run.stderr
        assert SECRET not in run.stderr + run.stdout
        assert "Traceback" not in run.stderr
    assert len(redirecting.requests) == 2, "one token call each, no retries"


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example\\@127.0.0.1",
        "http://evil.example\\.127.0.0.1",
        "http://user:pass@127.0.0.1:8080",
        "http://127.0.0.1 .evil.example",
        "http://127.0.0.1:80\t/",
        "https://jingopenapi.jingsocial.com/?redirect=http://evil.example",
    ],
)
def test_a_base_url_that_could_mean_another_host_is_refused(url: str) -> None:
    with pytest.raises(JingConfigError, match="base_url") as caught:
        ClientSettings.from_config({"app_id": "1", "app_secret": SECRET, "base_url": url})
    assert "pass" not in str(caught.value)


def test_a_tls_failure_is_a_config_error_naming_the_host_and_the_ca_setting(
    sandbox: SandboxProcess, tmp_path: Path
) -> None:
    """https to a server that speaks plain http: the handshake fails, at once, exit 2."""
    config = sandbox.config(max_attempts=8)
    config["base_url"] = sandbox.url.replace("http://", "https://")
    write_config(tmp_path / "c.json", config)
    tap = run_tap_in(tmp_path)
    assert tap.returncode == exit_codes.BAD_INPUT, tap.stderr[-2000:]
    assert "127.0.0.1" in tap.stderr and "REQUESTS_CA_BUNDLE" in tap.stderr
    assert "retrying" not in tap.stderr
    assert "Traceback" not in tap.stderr


@pytest.mark.parametrize("secret", [12345678901234567890, True, ["5a4d0b0e"], {"v": "5a4d0b0e"}])
@pytest.mark.parametrize("command", ["tap", "target"])
def test_a_wrongly_typed_secret_or_id_is_a_clear_config_error(
    command: str, secret: object, sandbox: SandboxProcess, tmp_path: Path
) -> None:
    for key in ("app_secret", "app_id"):
        config = {**sandbox.config(), key: secret}
        write_config(tmp_path / "c.json", config)
        if command == "tap":
            done = run_tap_in(tmp_path)
        else:
            done = run_target("--config", "c.json", cwd=tmp_path, stdin="")
        assert done.returncode == exit_codes.BAD_INPUT, done.stderr[-2000:]
        assert key in done.stderr
        assert "Traceback" not in done.stderr
        shown = json.dumps(secret)
        if key == "app_secret":
            assert shown not in done.stderr and str(secret) not in done.stderr
            assert "5a4d0b0e" not in done.stderr


def run_tap_in(folder: Path) -> subprocess.CompletedProcess[str]:
    """`tap-jing --config c.json` in `folder`, as a scheduler runs it."""
    return subprocess.run(
        [TAP_JING, "--config", "c.json"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
