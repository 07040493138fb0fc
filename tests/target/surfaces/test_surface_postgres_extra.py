"""Without the `postgres` extra, each PostgreSQL setting or option says what to install.

A venv without psycopg would take a minute to build, so these runs block its import
in the child instead (`sys.modules[name] = None` makes `import name` fail the way a
missing package does); everything else is the installed command as it runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jing_singer import exit_codes

PASSWORD = "Pg-extra-S3cret"
URL = f"postgresql://jing:{PASSWORD}@127.0.0.1:9/warehouse"
#: The modules of the `postgres` extra.
EXTRA_MODULES = ("psycopg",)
RUN_WITHOUT_EXTRA = (
    "import sys\n"
    f"sys.modules.update(dict.fromkeys({EXTRA_MODULES!r}))\n"
    "from {module} import main\n"
    "sys.argv = sys.argv[1:]\n"
    "sys.exit(main())\n"
)


def run_without_extra(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = RUN_WITHOUT_EXTRA.format(module=module)
    return subprocess.run(
        [sys.executable, "-c", code, module, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def _status_file(folder: Path) -> Path:
    path = folder / "statuses.csv"
    path.write_text("activity_id,user_id,signin_status\nact-1,user-1,1\n")
    return path


def _config(folder: Path, **settings: str) -> Path:
    path = folder / "config.json"
    config = {"app_id": "100000001", "app_secret": "s" * 32, "base_url": "http://127.0.0.1:9"}
    path.write_text(json.dumps({**config, **settings}))
    return path


@pytest.mark.parametrize(
    ("module", "arguments", "names"),
    [
        (
            "target_jing.cli",
            lambda d: ["sync", "--config", str(_config(d)), "--postgres", URL, "--table", "t"],
            "sync --postgres",
        ),
        (
            "target_jing.cli",
            lambda d: [
                "sync",
                "--config",
                str(_config(d, ledger_url=URL)),
                "--file",
                str(_status_file(d)),
            ],
            "ledger_url",
        ),
        (
            "target_jing.cli",
            lambda d: [
                "sync",
                "--config",
                str(_config(d, observed_state="activity_users", observed_state_path=URL)),
                "--file",
                str(_status_file(d)),
            ],
            "observed_state_path",
        ),
        ("orchestrate.decide", lambda d: ["--postgres", URL], "jing-decide --postgres"),
    ],
    ids=["sync --postgres", "ledger_url", "observed_state_path", "jing-decide --postgres"],
)
def test_a_postgres_setting_without_the_extra_names_it_and_what_to_install(
    tmp_path: Path, module: str, arguments: object, names: str
) -> None:
    args = arguments(tmp_path)  # type: ignore[operator]
    done = run_without_extra(module, *args, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == exit_codes.BAD_INPUT, output
    assert names in output
    assert "pip install 'jing-connectors[" in output and "postgres]'" in output
    assert "Traceback" not in output
    assert PASSWORD not in output
