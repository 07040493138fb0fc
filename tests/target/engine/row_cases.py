"""Input rows for the row checks' tests: good rows of each column type, and values
only the full checks (`rows`) read, as DuckDB tables hold them."""

from __future__ import annotations

import math
import random
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from target_jing.rows import check_batch
from target_jing.settings import TargetSettings

BASE = {"app_id": "100000000000000000000000001", "app_secret": "s3cr3t-value-xyz"}
COLUMNS = "activity_id, user_id, approve_status, signin_status, signin_time"


def settings(**config: Any) -> TargetSettings:
    return TargetSettings.from_config({**BASE, "base_url": "http://127.0.0.1:9", **config})


def batch(types: str, rows: list[str]) -> pa.RecordBatch:
    """One Arrow batch of a DuckDB table with `types` (for `COLUMNS`) holding `rows` (SQL)."""
    with duckdb.connect() as con:
        con.execute(f"CREATE TABLE t ({types})")
        con.execute("INSERT INTO t VALUES " + ", ".join(rows))
        return con.sql(f"SELECT {COLUMNS} FROM t").to_arrow_table().to_batches()[0]


def full_checks(rows: pa.RecordBatch, config: TargetSettings) -> list[dict[str, Any]]:
    """What `rows.check_batch` stages, with pandas' missing values as None."""
    frame = check_batch(rows.to_pandas(), config, "src", 5)
    return [
        {k: None if _missing(v) else v for k, v in row.items()} for row in frame.to_dict("records")
    ]


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


TYPES = (
    "activity_id VARCHAR, user_id VARCHAR, approve_status {s}, signin_status {s}, signin_time {t}"
)
GOOD = {
    ("INTEGER", "TIMESTAMP"): [
        "('a1', 'u1', 1, 0, '2025-03-01 10:00:00.5')",
        "('a1', 'u2', NULL, 1, NULL)",
    ],
    ("VARCHAR", "VARCHAR"): [
        "('a1', 'u1', '2', '0', '2025-03-01 10:00:00')",
        "('a1', 'u2', '1', NULL, '')",
    ],
    ("TINYINT", "TIMESTAMPTZ"): [
        "('a1', 'u1', 2, 1, '2025-03-01 10:00:00+05')",
        "('a2', 'u2', 0, 0, NULL)",
    ],
    ("INTEGER", "DATE"): ["('a1', 'u1', 1, 1, '2025-03-01')", "('a1', 'u3', 1, 1, '2030-12-31')"],
    ("VARCHAR", "TIMESTAMP_NS"): ["('a1', 'u1', '0', '1', '2025-03-01 10:00:00.123456789')"],
}


BAD = [
    ("INTEGER", "TIMESTAMP", "(' a1', 'u9', 1, 0, NULL)"),  # a padded id
    ("INTEGER", "TIMESTAMP", "('a1', '', 1, 0, NULL)"),  # an empty id
    ("INTEGER", "TIMESTAMP", "('a1', NULL, 1, 0, NULL)"),  # a missing id
    ("INTEGER", "TIMESTAMP", "('a1', 'u9' || chr(10), 1, 0, NULL)"),  # a trailing newline
    ("INTEGER", "TIMESTAMP", "('a1', chr(12288) || 'u9', 1, 0, NULL)"),  # ideographic space
    ("INTEGER", "TIMESTAMP", "('a1', 'u9', 7, 0, NULL)"),  # not an allowed status
    ("INTEGER", "TIMESTAMP", "('a1', 'u9', 1, 2, NULL)"),  # signin 2: not allowed by default
    ("INTEGER", "TIMESTAMP", "('a1', 'u9', NULL, NULL, NULL)"),  # nothing to set
    ("VARCHAR", "VARCHAR", "('a1', 'u9', ' 1', '0', NULL)"),  # read as 1 by the full checks
    ("VARCHAR", "VARCHAR", "('a1', 'u9', '1.0', '0', NULL)"),  # read as 1 by the full checks
    ("VARCHAR", "VARCHAR", "('a1', 'u9', '', '0', NULL)"),  # an empty status: not sent
    ("VARCHAR", "VARCHAR", "('a1', 'u9', 'yes', '0', NULL)"),
    ("DOUBLE", "VARCHAR", "('a1', 'u9', 1.0, 0.0, NULL)"),  # floats: the full checks read them
    ("BOOLEAN", "VARCHAR", "('a1', 'u9', true, false, NULL)"),
    ("VARCHAR", "VARCHAR", "('a1', 'u9', '1', '0', '2025-13-01 10:00:00')"),  # month 13
    ("VARCHAR", "VARCHAR", "('a1', 'u9', '1', '0', '2025-02-30 10:00:00')"),  # February 30
    ("VARCHAR", "VARCHAR", "('a1', 'u9', '1', '0', '2025-03-01 24:00:00')"),
    ("VARCHAR", "VARCHAR", "('a1', 'u9', '1', '0', '2025-03-01T10:00:00')"),  # another shape
    ("VARCHAR", "VARCHAR", "('a1', 'u9', '1', '0', '2025-03-01 10:00')"),
    ("VARCHAR", "VARCHAR", "('a1', 'u9', '1', '0', '1759305600')"),  # epoch text
    ("VARCHAR", "VARCHAR", "('a1', 'u9', '1', '0', ' ')"),
    ("INTEGER", "BIGINT", "('a1', 'u9', 1, 0, 1759305600)"),  # epoch numbers
    ("INTEGER", "TIMESTAMP", "('a1', 'u9', 1, 0, '2025-03-09 02:30:00')"),  # skipped in New York
    ("INTEGER", "TIMESTAMP", "('a1', 'u9', 1, 0, '2025-11-02 01:30:00')"),  # repeated there
    ("INTEGER", "TIMESTAMP", "('a1', 'u9', 1, 0, '9999-07-28 12:00:00')"),  # past explicit rules
    ("INTEGER", "TIMESTAMPTZ", "('a1', 'u9', 1, 0, '9999-12-31 23:00:00+00')"),  # year 10000
    ("INTEGER", "DATE", "('a1', 'u9', 1, 0, '1969-12-31')"),
]


def random_row(generator: random.Random, status: str, time: str) -> str:
    quote = "'{}'" if status == "VARCHAR" else "{}"
    values = [quote.format(generator.choice("012")) for _ in range(2)]
    values = [v if generator.random() > 0.1 else "NULL" for v in values]
    values[1] = values[1].replace("2", "1")
    moment = (
        f"{generator.randint(1970, 2036)}-{generator.randint(1, 12):02d}-"
        f"{generator.randint(1, 28):02d} {generator.randint(0, 23):02d}:"
        f"{generator.randint(0, 59):02d}:{generator.randint(0, 59):02d}"
    )
    if time != "VARCHAR":
        moment += f".{generator.randint(0, 999999):06d}"
    when = "NULL" if generator.random() < 0.2 else f"'{moment}'"
    if generator.random() < 0.03:  # now and then a value only the full checks read
        when = generator.choice(["'2025-02-30 10:00:00'", "'9999-06-01 10:00:00'", "''"])
        when = when if time == "VARCHAR" else "NULL"
    ids = f"'a{generator.randint(1, 3)}', 'u{generator.randint(1, 10**6)}'"
    return f"({ids}, {values[0]}, {values[1]}, {when})"


def random_table(generator: random.Random) -> tuple[str, list[str]]:
    """A random table's column types (for `COLUMNS`) and rows (SQL), mostly good."""
    status = generator.choice(["INTEGER", "VARCHAR", "SMALLINT"])
    time = generator.choice(["TIMESTAMP", "TIMESTAMPTZ", "DATE", "VARCHAR"])
    rows = [random_row(generator, status, time) for _ in range(generator.randint(1, 30))]
    return TYPES.format(s=status, t=time), rows


def among_good(row: str) -> list[str]:
    """`row` between two good rows: one such value is enough to leave them all to `rows`."""
    good = "('a1', 'u1', 1, 0, NULL)"
    return [good, row, good.replace("u1", "u2")]
