"""A misspelt setting is refused on every path that can hand one in, with the right name.

A config file's misspelling has long been refused. A variable of the plugin's
prefix (`TARGET_JING_BACH_SIZE`) was ignored, so the run went on with the default:
it arrives that way when typed by hand, from `.env`, or from `meltano config set`,
which hands undeclared settings on as variables too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from orchestrate import decide
from tap_jing.settings import TAP_DECLARATIONS
from target_jing.settings import SDK_BUILTIN_SETTINGS, TARGET_DECLARATIONS

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET = "0123456789abcdef0123456789abcdef"


def _env(**variables: str) -> dict[str, str]:
    ours = ("TAP_JING_", "TARGET_JING_", "JING_DECIDE_")
    kept = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return {**kept, **variables}


def test_every_variable_of_the_prefix_that_names_no_setting_is_a_problem() -> None:
    problems = TARGET_DECLARATIONS.unknown_in_environment(
        {
            "TARGET_JING_BACH_SIZE": "5",
            "TARGET_JING_LEDGER_PATHH": "x.duckdb",
            "TARGET_JING_BATCH_SIZE": "5",  # a setting
            "TARGET_JING_LOGLEVEL": "debug",  # the SDK's log level
            "TARGET_JING__SELECT": "[]",  # a Meltano extra
            "TARGET_JING_STREAM_MAPS": "{}",  # the SDK's own setting
            "TARGET_JING_SYNC_BATCH_SIZE": "5",  # Meltano's, for a plugin target-jing-sync
            "TAP_JING_BACH_SIZE": "5",  # another plugin's
        },
        known=SDK_BUILTIN_SETTINGS,
    )
    assert problems == [
        "unknown setting 'bach_size' (the environment variable TARGET_JING_BACH_SIZE); "
        "did you mean 'batch_size' (TARGET_JING_BATCH_SIZE)?",
        "unknown setting 'ledger_pathh' (the environment variable TARGET_JING_LEDGER_PATHH); "
        "did you mean 'ledger_path' (TARGET_JING_LEDGER_PATH)?",
    ]
    assert TAP_DECLARATIONS.unknown_in_environment({"TAP_JING_PAGE_SIZ": "1"}) == [
        "unknown setting 'page_siz' (the environment variable TAP_JING_PAGE_SIZ); "
        "did you mean 'page_size' (TAP_JING_PAGE_SIZE)?"
    ]


@pytest.mark.parametrize("config_from", ["file", "ENV"])
def test_target_jing_sync_refuses_a_misspelt_variable_before_any_work(
    tmp_path: Path, config_from: str
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"app_id": "1" * 27, "app_secret": SECRET}))
    rows = tmp_path / "rows.csv"
    rows.write_text("entity_uuid,omni_user_uuid,sign_in_status\n")
    variables = {"TARGET_JING_BACH_SIZE": SECRET}  # the value is never shown
    if config_from == "ENV":
        variables |= {"TARGET_JING_APP_ID": "1" * 27, "TARGET_JING_APP_SECRET": SECRET}
    done = subprocess.run(
        [
            str(BIN / "target-jing"),
            "sync",
            "--config",
            str(config) if config_from == "file" else "ENV",
            "--file",
            str(rows),
        ],
        capture_output=True,
        text=True,
        env=_env(**variables),
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "TARGET_JING_BACH_SIZE" in done.stderr
    assert "did you mean 'batch_size'" in done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert not (tmp_path / "output").exists(), "nothing was started"


def test_the_singer_target_and_the_tap_refuse_a_misspelt_variable(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"app_id": "1" * 27, "app_secret": SECRET, "base_url": "http://127.0.0.1:9"})
    )
    target = subprocess.run(
        [str(BIN / "target-jing"), "--config", str(config)],
        input="",
        capture_output=True,
        text=True,
        env=_env(TARGET_JING_LEDGER_PATHH="x.duckdb"),
        cwd=tmp_path,
        timeout=120,
    )
    assert target.returncode == 2, target.stderr
    assert "did you mean 'ledger_path' (TARGET_JING_LEDGER_PATH)?" in target.stderr
    tap = subprocess.run(
        [str(BIN / "tap-jing"), "--config", str(config)],
        capture_output=True,
        text=True,
        env=_env(TAP_JING_PAGE_SIZ="10", TAP_JING_LOGLEVEL="info", TAP_JING__SELECT="[]"),
        cwd=tmp_path,
        timeout=120,
    )
    assert tap.returncode == 2, tap.stderr
    assert "did you mean 'page_size' (TAP_JING_PAGE_SIZE)?" in tap.stderr
    assert tap.stdout == ""


def test_jing_decide_refuses_a_misspelt_variable_and_knows_its_meltano_settings(
    tmp_path: Path,
) -> None:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (utility,) = [u for u in project["plugins"]["utilities"] if u["name"] == "jing-decide"]
    assert tuple(s["name"] for s in utility["settings"]) == decide.SETTINGS
    done = subprocess.run(
        [str(BIN / "jing-decide"), "--duckdb", str(tmp_path / "w.duckdb")],
        capture_output=True,
        text=True,
        env=_env(JING_DECIDE_SQL_DIRR=str(tmp_path)),
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "did you mean 'sql_dir' (JING_DECIDE_SQL_DIR)?" in done.stderr
    assert "Traceback" not in done.stderr
