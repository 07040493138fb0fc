"""Registrations per activity type and status, and a before/after table of them.

The demo shows what the pipeline changed by counting the warehouse twice: after
the first extract and after the re-extract that follows the write-back. The
counts come from the extracted tables, so they show what the API itself holds.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

#: (field, API value, label) in the order the table shows them [jing-api.md 6.4].
STATUSES: tuple[tuple[str, str, str], ...] = (
    ("ems_approvestatus", "0", "pending review"),
    ("ems_approvestatus", "1", "approved"),
    ("ems_approvestatus", "2", "rejected"),
    ("ems_signinstatus", "0", "not signed in"),
    ("ems_signinstatus", "1", "signed in"),
)

Counts = dict[tuple[str, str], int]

COUNT_SQL = """
SELECT a.activity_type, s.field, s.value, count(*) AS n
FROM raw.activity_users AS r
JOIN raw.activities AS a ON a.entity_uuid = r.target_entity_uuid
CROSS JOIN LATERAL (
    VALUES ('ems_approvestatus', r.ems_approvestatus), ('ems_signinstatus', r.ems_signinstatus)
) AS s(field, value)
GROUP BY ALL
"""


def status_counts(warehouse: Path) -> Counts:
    """(activity type, status label) -> registrations, read from the extracted tables."""
    labels = {(field, value): label for field, value, label in STATUSES}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(COUNT_SQL).fetchall()
    counts: Counts = {}
    for activity_type, field, value, n in rows:
        label = labels.get((field, value), f"{field}={value}")
        counts[(activity_type, label)] = counts.get((activity_type, label), 0) + n
    return counts


def before_after_table(before: Counts, after: Counts) -> str:
    """A fixed-width table: every status of every activity type, with the change."""
    order = {label: i for i, (_, _, label) in enumerate(STATUSES)}
    seen = set(before) | set(after)
    every_status = {(kind, label) for kind, _ in seen for _, _, label in STATUSES}
    keys = sorted(seen | every_status, key=lambda k: (k[0], order.get(k[1], len(order)), k[1]))
    header = ("activity type", "status", "before", "after", "change")
    rows = []
    previous_type = None
    for activity_type, label in keys:
        old, new = before.get((activity_type, label), 0), after.get((activity_type, label), 0)
        shown_type = activity_type if activity_type != previous_type else ""
        previous_type = activity_type
        change = f"{new - old:+,}" if new != old else "0"
        rows.append((shown_type, label, f"{old:,}", f"{new:,}", change))
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        left = [cells[i].ljust(widths[i]) for i in (0, 1)]
        right = [cells[i].rjust(widths[i]) for i in (2, 3, 4)]
        return "  ".join(left + right).rstrip()

    rule = tuple("-" * width for width in widths)
    return "\n".join([line(header), line(rule), *(line(row) for row in rows)])
