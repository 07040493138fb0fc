"""The Singer SDK's standard target tests, run against `TargetJing`.

The standard files send arbitrary streams (`test_camelcase`, `test_array_data`,
...) whose records are not status rows. target-jing's `streams` setting is
meant for exactly that: here it names only `status_updates`, so each standard
stream is read, validated by the SDK and ignored (one INFO line), and the
tests check what still applies to this target: the CLI prints its version and
about, schemas and records are parsed, invalid schemas and records before
their schema fail, key properties are enforced, and STATE messages are relayed
in order. The run that opens at the end of the input has no rows and no pending
ones, so it makes no call and no sandbox is needed. Left out: none; status
rows from a Singer stream are covered against the sandbox in
test_surface_singer.py.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from singer_sdk.testing import get_target_test_class

from target_jing.target import TargetJing

CONFIG = {
    "app_id": "100000000000000000000000001",
    "app_secret": "5a4d0b0e5e1f4c7c9d3b2a1f0e9d8c7b",
    # Nothing listens here: the standard streams never reach a run.
    "base_url": "http://127.0.0.1:9",
    "streams": ["status_updates"],
    # One ledger per test process (xdist workers run the suite side by side).
    "ledger_path": str(Path(tempfile.mkdtemp(prefix="target-jing-sdk-tests-")) / "ledger.duckdb"),
}

TestTargetJingStandard = get_target_test_class(TargetJing, config=CONFIG)
