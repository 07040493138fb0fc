"""The input's columns: which column is which API field, and whether the shape can be right.

Shared by the two row checks (`typed_rows` for typed Arrow batches, `rows` for
anything else), and free of pandas, so that a run whose rows need no pandas
never imports it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from target_jing.settings import API_FIELDS, KEY_FIELDS, WANTED_FIELDS, TargetSettings
from target_jing.sources import SourceError

#: Rows checked and staged together: large enough to be fast, small enough to stay lean.
BATCH_ROWS = 50_000

STAGED_COLUMNS: tuple[str, ...] = ("row_index", "source", *KEY_FIELDS, *WANTED_FIELDS, "reason")

#: A whole number written with a decimal point and zeros: "1.0", "2.00" (a status of 1, 2).
WHOLE_DECIMAL = re.compile(r"(\d+)\.0+")

# The rules of the fast checks (`typed_rows` in Arrow, `plain_relation` in DuckDB): a
# value they take is one `rows` reads unchanged; any other goes to `rows`.

#: An id whose first and last characters are printable ASCII other than a space:
#: nothing for `str.strip` to take (every character it strips is outside this range).
PLAIN_ID_EDGES = ("^[!-~]", "[!-~]$")
#: A time as text in the API's own shape, each part in its range (whole-match it; the
#: day is checked by writing the parsed time back: Arrow's parser takes February 30
#: as March 2).
PLAIN_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2} ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
#: The first and last years whose zone changes every zone file lists one by one. Past
#: them a file gives a rule, which Arrow's zone library and Python's may not both follow
#: (a July 9999 in New York is summer time to Python, winter to Arrow).
EXPLICIT_YEARS = (1970, 2036)

#: How messages name the two key fields.
KEY_NAMES = {"entity_uuid": "activity id", "omni_user_uuid": "user id"}


def check_columns(columns: Sequence[str], settings: TargetSettings, source: str) -> None:
    """Refuse an input whose shape cannot be right, before anything is staged or sent.

    Column names match exactly (case and spaces count): `Activity_ID` is not
    `activity_id`. The message lists the columns found, so the fix is plain.
    """
    found = ", ".join(repr(c) for c in columns) or "none"
    repeated = sorted({c for c in columns if list(columns).count(c) > 1})
    if repeated:
        raise SourceError(
            f"{source}: column names repeat ({', '.join(map(repr, repeated))}); columns: {found}"
        )
    for api_field, column in settings.column_mapping.items():
        if column not in columns:
            raise SourceError(
                f"{source}: setting 'column_mapping' maps {api_field} to column {column!r}, "
                f"which is not in the input; columns: {found}"
            )
    resolved: dict[str, str] = {}
    for api_field in API_FIELDS:
        column = column_for(columns, settings.columns[api_field])
        if column is None:
            if api_field in KEY_FIELDS:
                raise SourceError(
                    f"{source}: no {KEY_NAMES[api_field]} column "
                    f"({column_label(settings, api_field)}); columns: {found}"
                )
            continue
        if column in resolved:
            raise SourceError(
                f"{source}: column {column!r} would be both {resolved[column]} and {api_field}; "
                "map each field to its own column"
            )
        resolved[column] = api_field


def column_for(names: Sequence[str], candidates: tuple[str, ...]) -> str | None:
    """The first of `candidates` that is one of the input's column `names`."""
    return next((c for c in candidates if c in names), None)


def column_label(settings: TargetSettings, api_field: str) -> str:
    return "column " + " or ".join(repr(c) for c in settings.columns[api_field])


def exact_statuses(settings: TargetSettings, api_field: str) -> list[str]:
    """The allowed statuses that `rows` reads as themselves (it reads " 1" and "1.0" as 1)."""
    allowed = allowed_statuses(settings, api_field)
    return [s for s in allowed if s and s == s.strip() and not WHOLE_DECIMAL.fullmatch(s)]


def allowed_statuses(settings: TargetSettings, api_field: str) -> tuple[str, ...]:
    """The statuses a status field may take (its setting)."""
    if api_field == "ems_signinstatus":
        return settings.signin_statuses
    return settings.approve_statuses
