"""The demo's before/after table: every status of every activity type, with the change."""

from __future__ import annotations

from orchestrate.status_counts import before_after_table


def test_table_lists_every_status_with_its_change() -> None:
    before = {("offline", "pending review"): 1200, ("offline", "not signed in"): 1500}
    after = {
        ("offline", "approved"): 900,
        ("offline", "rejected"): 300,
        ("offline", "not signed in"): 1200,
        ("offline", "signed in"): 300,
    }
    lines = before_after_table(before, after).splitlines()
    assert lines[0].split() == ["activity", "type", "status", "before", "after", "change"]
    rows = [line.split() for line in lines[2:]]
    assert rows == [
        ["offline", "pending", "review", "1,200", "0", "-1,200"],
        ["approved", "0", "900", "+900"],
        ["rejected", "0", "300", "+300"],
        ["not", "signed", "in", "1,500", "1,200", "-300"],
        ["signed", "in", "0", "300", "+300"],
    ]
