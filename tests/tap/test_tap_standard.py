"""The Singer SDK's standard tap suite, against one sandbox over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from jing_sandbox.process import SandboxProcess
from jing_sandbox.settings import DEFAULT_APP_ID, DEFAULT_APP_SECRET
from tap_jing.tap import TapJing

# The suite builds its test list when this module is imported, before any sandbox
# runs: the URL is a placeholder until the fixture below puts the sandbox's in.
CONFIG = {
    "app_id": DEFAULT_APP_ID,
    "app_secret": DEFAULT_APP_SECRET,
    "base_url": "http://127.0.0.1:9",
    "requests_per_second": 1000,
    "include_activity_details": True,
    "start_date": "2000-01-01T00:00:00Z",
}


@pytest.fixture(scope="module", autouse=True)
def sandbox_for_suite() -> Iterator[SandboxProcess]:
    with SandboxProcess(
        activities=3, users=60, registrations=120, rate_limit=10000, max_in_flight=100
    ) as sandbox:
        CONFIG["base_url"] = sandbox.url
        yield sandbox


TestTapJing = get_tap_test_class(
    TapJing, config=CONFIG, suite_config=SuiteConfig(max_records_limit=None)
)
