"""`SandboxProcess`: a sandbox in a child process, for tests, benchmarks and the demo.

    with SandboxProcess(activities=5, users=200, registrations=600, rate_limit=1000) as sb:
        config = sb.config()            # {"app_id", "app_secret", "base_url"}
        sb.faults(http_5xx=0.2)
        sb.stats()["calls"]

Keyword arguments are `jing-sandbox serve` flags (`rate_limit=5` -> `--rate-limit 5`,
`exit_on_eof=True` -> `--exit-on-eof`). The child runs with `--exit-on-eof` on a
pipe that only this object holds, so it dies with its parent. Admin calls use
urllib, so this module needs nothing outside the standard library.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from types import TracebackType
from typing import IO, Any

from jing_sandbox.settings import DEFAULT_APP_ID, DEFAULT_APP_SECRET

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
BANNER = "listening on "


class SandboxError(RuntimeError):
    """The sandbox did not start, or an admin call failed."""


class SandboxProcess:
    """One `jing-sandbox serve` child process and its admin endpoints."""

    def __init__(self, start_timeout: float = START_TIMEOUT, **flags: Any) -> None:
        """`flags` become `serve` options; `start_timeout` allows for big seeds (1M rows)."""
        self.start_timeout = start_timeout
        self.flags = {k: v for k, v in flags.items() if v is not None and v is not False}
        self.app_id = str(self.flags.get("app_id", DEFAULT_APP_ID))
        self.app_secret = str(self.flags.get("app_secret", DEFAULT_APP_SECRET))
        self.url = ""
        self.port = int(self.flags.pop("port", 0))
        self.flags.pop("exit_on_eof", None)
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> SandboxProcess:
        """Start the child and wait for its `listening on` line (idempotent)."""
        if self._proc is not None:
            return self
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - open while the child runs
        cmd = [sys.executable, "-m", "jing_sandbox", "serve", "--exit-on-eof"]
        cmd += ["--port", str(self.port), *_flag_args(self.flags)]
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr
        )
        line = _read_line(self._proc, self.start_timeout)
        if not line.startswith(BANNER):
            self._kill()
            raise SandboxError(f"sandbox did not start: {line!r}; stderr: {self._stderr_tail()}")
        self.url = line[len(BANNER) :].strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def stop(self) -> None:
        """Close the child's stdin (it exits cleanly and writes --db); kill it if it hangs."""
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._kill()
        finally:
            self._close_pipes()

    def restart(self) -> SandboxProcess:
        """Stop and start again on the same port (and --db; without one the data is re-seeded)."""
        self.stop()
        return self.start()

    def kill(self) -> None:
        """SIGKILL the child, as a crash would (tests of --db durability)."""
        self._kill()

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._close_pipes()

    def _close_pipes(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()[-2000:].decode(errors="replace")

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- for clients ----------------------------------------------------------------------

    def config(self, **overrides: Any) -> dict[str, Any]:
        """A Singer config for the tap and target pointing at this sandbox."""
        return {
            "app_id": self.app_id,
            "app_secret": self.app_secret,
            "base_url": self.url,
            **overrides,
        }

    # -- admin endpoints ------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return self._admin("GET", "stats")

    def reset(self, data: bool = False) -> dict[str, Any]:
        return self._admin("POST", "reset", {"data": data})

    def faults(self, path: str = "*", **rates: float) -> dict[str, Any]:
        """Set the fault rates of `path` ("*" = every path), replacing its earlier ones.

        `faults()` clears every fault; `faults(path=p)` clears only p's own rates.
        """
        body = {"path": path, **rates} if rates or path != "*" else {}
        return self._admin("POST", "faults", body)

    def configure(self, **values: float) -> dict[str, Any]:
        return self._admin("POST", "config", values)

    def expire_tokens(self, access: bool = True, refresh: bool = False) -> dict[str, Any]:
        return self._admin("POST", "expire_tokens", {"access": access, "refresh": refresh})

    def register(self, entity_uuid: str, user_ids: list[str]) -> dict[str, Any]:
        return self._admin("POST", "register", {"entity_uuid": entity_uuid, "user_ids": user_ids})

    def registrations(self, entity_uuid: str | None = None) -> list[dict[str, Any]]:
        query = f"?{urllib.parse.urlencode({'entity_uuid': entity_uuid})}" if entity_uuid else ""
        return self._admin("GET", f"registrations{query}")

    def counts(self) -> dict[str, int]:
        return self._admin("GET", "counts")

    def tokens(self) -> dict[str, list[str]]:
        return self._admin("GET", "tokens")

    def _admin(self, method: str, name: str, body: dict[str, Any] | None = None) -> Any:
        if not self.url:
            raise SandboxError("the sandbox is not running")
        data = None if method == "GET" else json.dumps(body or {}).encode()
        request = urllib.request.Request(
            f"{self.url}/_sandbox/{name}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise SandboxError(f"{method} /_sandbox/{name}: HTTP {exc.code} {detail}") from exc


def _flag_args(flags: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for name, value in flags.items():
        flag = "--" + name.replace("_", "-")
        args += [flag] if value is True else [flag, str(value)]
    return args


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """The child's first stdout line, or "" if it exits or stays silent for `timeout`."""
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    return lines[0].decode(errors="replace") if lines else ""
