"""A real PostgreSQL server for tests: `initdb` and `pg_ctl` in a temporary folder.

It listens on 127.0.0.1 on a free port, with password (SCRAM) authentication so
that the tests can check a password never shows. PostgreSQL refuses to run as
root, so as root the server runs as the `postgres` user that Debian's package
creates. `stop()` ends it, and so does a watchdog when the process that started it
is gone (a killed test run leaves no server behind).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

USER = "jing"
#: The test password: the tests look for it in every log, error and ledger row.
PASSWORD = "pg-Secret-7c1e"
DATABASE = "warehouse"


def _binary(name: str) -> str:
    """`initdb` or `pg_ctl`: on PATH, else in Debian's versioned folder."""
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).is_file():
            return str(folder / name)
    raise RuntimeError(f"{name} not found: `make test` installs Debian's postgresql package")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """One running server; `url` has the test user's password in it."""

    folder: Path
    port: int
    durable: bool = False

    @property
    def url(self) -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    @classmethod
    def start(cls, folder: Path, *, durable: bool = False) -> PostgresServer:
        """Start a server in `folder`; `durable` keeps fsync on, as a production server has it
        (the benchmarks), where the tests skip it to go faster."""
        folder.mkdir(parents=True, exist_ok=True)
        data = folder / "data"
        password_file = folder / "password"
        password_file.write_text(PASSWORD)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
            shutil.chown(password_file, "postgres")
        server = cls(folder, _free_port())
        server._run(
            _binary("initdb"), "-D", str(data), "-U", USER, "--auth=scram-sha-256",
            f"--pwfile={password_file}", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        server.durable = durable
        server.resume()
        server._watch(os.getpid())
        server.sql("postgres", f"CREATE DATABASE {DATABASE}")
        return server

    def resume(self) -> None:
        """Start the server (again, after `stop`), on the same port and data."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        if not self.durable:
            options += " -c fsync=off"
        self._run(
            _binary("pg_ctl"), "-D", str(self.folder / "data"), "-o", options,
            "-l", str(self.folder / "log"), "-w", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(_binary("pg_ctl"), "-D", str(self.folder / "data"), "-m", mode, "-w", "stop")

    def sql(self, database: str, statement: str) -> str:
        """Run one statement with psql as the test user; its output."""
        done = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", database,
             "-v", "ON_ERROR_STOP=1", "-Atc", statement],
            env={**os.environ, "PGPASSWORD": PASSWORD},
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        return done.stdout

    def _watch(self, pid: int) -> None:
        """A detached shell that stops the server once process `pid` has ended."""
        stop = " ".join(self._command(_binary("pg_ctl"), "-D", str(self.folder / "data")))
        script = f"while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} -m immediate stop"
        subprocess.Popen(
            ["sh", "-c", script],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _command(self, *command: str) -> list[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return [*prefix, *command]

    def _run(self, *command: str) -> None:
        subprocess.run(self._command(*command), check=True, capture_output=True, timeout=120)
