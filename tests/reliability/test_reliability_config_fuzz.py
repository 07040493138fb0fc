"""Missing, wrong-typed and unknown settings for tap-jing and target-jing.

Each bad config must end the process with a non-zero exit and a message that
names the setting, never a traceback; and `base_url` must refuse plain http://
for any host but loopback unless `allow_insecure_http` says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jing_client import ClientSettings, JingConfigError

BIN = Path(sys.executable).parent
SECRET = "0123456789abcdef0123456789abcdef"
#: Valid, pointing at a closed loopback port, giving up at once if a case slips through.
BASE = {
    "app_id": "100000000000000000000000001",
    "app_secret": SECRET,
    "base_url": "http://127.0.0.1:9",
    "max_attempts": 1,
    "max_retry_seconds": 1,
}
MISSING = object()

#: (setting, bad value or MISSING), good for both connectors. Each case is a process of its
#: own (a few seconds), so the list keeps one of each kind of mistake.
SHARED_CASES: list[tuple[str, Any]] = [
    ("app_id", MISSING),
    ("app_secret", MISSING),
    ("app_id", 123),
    ("app_id", "100000000000000000000000001\n"),  # pasted with its line break: no header
    ("base_url", "ftp://example.com"),
    ("base_url", "http://example.com"),
    ("requests_per_second", "fast"),
    ("max_concurrency", 2.5),
    ("api_timezone", "Mars/Olympus_Mons"),
    ("requests_per_secnd", 10),
]
TAP_CASES: list[tuple[str, Any]] = [
    ("page_size", "a hundred"),
    ("start_date", "yesterday"),
    ("activity_ids", "not-a-list"),
]
TARGET_CASES: list[tuple[str, Any]] = [
    ("batch_size", "x"),
    ("column_mapping", {"user": "member_id"}),
    ("source_timezone", "Nowhere/Land"),
    ("max_failed_ratio", 2),
]


def bad_config(setting: str, value: Any) -> dict[str, Any]:
    config = {k: v for k, v in BASE.items() if k != setting}
    if value is not MISSING:
        config[setting] = value
    return config


def run(command: list[str], config: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.run(
        [*command, "--config", str(path)],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )


def assert_one_clear_message(done: subprocess.CompletedProcess, setting: str) -> None:
    """Non-zero, no traceback, the first error line names the setting, the secret never shown."""
    assert done.returncode != 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert errors, done.stderr[-2000:]
    assert setting in errors[0], errors
    assert SECRET not in done.stderr + done.stdout


@pytest.mark.parametrize(("setting", "value"), SHARED_CASES + TAP_CASES)
def test_tap_jing_bad_setting(setting: str, value: Any, tmp_path: Path) -> None:
    done = run([str(BIN / "tap-jing")], bad_config(setting, value), tmp_path)
    assert_one_clear_message(done, setting)


@pytest.mark.parametrize(("setting", "value"), SHARED_CASES + TARGET_CASES)
def test_target_jing_bad_setting(setting: str, value: Any, tmp_path: Path) -> None:
    done = run([str(BIN / "target-jing")], bad_config(setting, value), tmp_path)
    assert_one_clear_message(done, setting)
    assert done.returncode == 2


@pytest.mark.parametrize(("setting", "value"), [("app_secret", MISSING), ("bogus_setting", 1)])
def test_target_jing_sync_bad_setting(setting: str, value: Any, tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text("activity_id,user_id,approve_status\na,b,1\n")
    done = run(
        [str(BIN / "target-jing"), "sync", "--file", str(tmp_path / "rows.csv")],
        bad_config(setting, value),
        tmp_path,
    )
    assert_one_clear_message(done, setting)
    assert done.returncode == 2


@pytest.mark.parametrize("connector", ["tap-jing", "target-jing"])
def test_a_config_file_that_is_not_json_is_one_message(connector: str, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"app_id": "1", "app_secret": ')
    done = subprocess.run(
        [str(BIN / connector), "--config", str(path)],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "config" in done.stderr.lower()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:99999", "is not a URL"),
        ("http://127.0.0.1:port", "is not a URL"),
        ("http://[::1", "is not a URL"),
        ("https://exämple.com", "ASCII"),
        ("https://例え.jp/v1", "ASCII"),
        ("https:///v1", "must be an http"),
        ("https://example.com/v1#top", "no query or fragment"),
    ],
)
def test_a_base_url_the_transport_could_not_use_is_refused_by_name(url: str, says: str) -> None:
    """Refused when the settings are read, never a traceback at the first call."""
    with pytest.raises(JingConfigError, match="base_url") as caught:
        ClientSettings.from_config({**BASE, "base_url": url})
    assert says in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "http://10.0.0.8:8080",
        "http://jingopenapi.jingsocial.com",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "http://[2001:db8::1]",
    ],
)
def test_plain_http_to_a_host_that_is_not_loopback_is_refused(url: str) -> None:
    with pytest.raises(JingConfigError, match="allow_insecure_http"):
        ClientSettings.from_config({**BASE, "base_url": url})
    allowed = ClientSettings.from_config({**BASE, "base_url": url, "allow_insecure_http": True})
    assert allowed.base_url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8765",
        "http://127.8.9.10",
        "http://localhost:1",
        "http://[::1]:8765",
        "https://example.com",
    ],
)
def test_loopback_or_https_needs_no_permission(url: str) -> None:
    assert ClientSettings.from_config({**BASE, "base_url": url}).base_url == url
