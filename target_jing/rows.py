"""Check input rows: each becomes a status row or a rejection whose reason names the row.

Rows arrive in batches (a pandas DataFrame of up to `input_columns.BATCH_ROWS` rows) and are
checked a column at a time, so a million rows never exist as a million Python
objects. The result is a frame in the ledger's staging layout: the row's index
in its source, the source, the two ids, the four wanted fields as the API's
strings (None = not sent) and a reason (None = the row is good). Columns that
do not map to an API field are dropped here and so can never be sent.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from jing_client.redact import redact
from target_jing.input_columns import (
    KEY_NAMES,
    STAGED_COLUMNS,
    WHOLE_DECIMAL,
    allowed_statuses,
    column_for,
    column_label,
)
from target_jing.settings import KEY_FIELDS, STATUS_FIELDS, WANTED_FIELDS, TargetSettings
from target_jing.times import to_api_times

_BAD = object()


def check_batch(
    frame: pd.DataFrame,
    settings: TargetSettings,
    source: str,
    first_index: int,
    holds: Callable[[str | None], bool] | None = None,
) -> pd.DataFrame:
    """Check one batch; row i of `frame` is row `first_index + i` of `source`.

    With `holds` (a shard's), only the rows of the activities it holds are checked and
    returned: a shard of N does 1/N of the work. Their activity ids are read as the
    checks read them, so a row goes to the same shard as its pending rows.
    """
    row_index = np.arange(first_index, first_index + len(frame), dtype="int64")
    if holds is not None:
        column = column_for(frame.columns, settings.columns["entity_uuid"])
        activities = [None] * len(frame) if column is None else _ids(frame[column], "")[0]
        kept = np.fromiter((holds(a) for a in list(activities)), dtype=bool, count=len(frame))
        frame, row_index = frame[kept], row_index[kept]
    index = pd.RangeIndex(len(frame))
    frame = frame.set_axis(index, axis=0)
    staged = pd.DataFrame({"row_index": row_index}, index=index)
    staged["source"] = source
    problems: list[pd.Series] = []
    for api_field in KEY_FIELDS:
        label = f"{KEY_NAMES[api_field]} ({column_label(settings, api_field)})"
        column = column_for(frame.columns, settings.columns[api_field])
        if column is None:
            staged[api_field] = pd.Series(None, index=index, dtype=object)
            problems.append(pd.Series(f"missing {label}", index=index, dtype=object))
            continue
        staged[api_field], errors = _ids(frame[column], label)
        problems.append(errors)
    for api_field in WANTED_FIELDS:
        column = column_for(frame.columns, settings.columns[api_field])
        if column is None:
            staged[api_field] = pd.Series(None, index=index, dtype=object)
            continue
        if api_field in STATUS_FIELDS:
            values, errors = _statuses(frame[column], allowed_statuses(settings, api_field))
        else:
            values, errors = to_api_times(
                frame[column], settings.source_timezone, settings.api_timezone
            )
        staged[api_field] = values
        problems.append(_name_column(errors, column))
    value_columns = problems[len(KEY_FIELDS) :]
    value_problems = (
        pd.concat(value_columns, axis=1).notna().any(axis=1)
        if value_columns  # a batch without any status or time column has no value problems
        else pd.Series(False, index=index)
    )
    nothing = staged[list(WANTED_FIELDS)].isna().all(axis=1) & ~value_problems
    problems.append(
        pd.Series(
            "nothing to set: every status and time is empty", index=index, dtype=object
        ).where(nothing, None)
    )
    staged["reason"] = _reasons(problems, staged["row_index"], source)
    return staged[list(STAGED_COLUMNS)]


def _name_column(errors: pd.Series, column: str) -> pd.Series:
    """Each problem prefixed with the column it came from; None where there is none."""
    named = pd.Series(None, index=errors.index, dtype=object)
    bad = errors.notna().to_numpy()
    if bad.any():
        named[bad] = [f"column {column!r}: {e}" for e in errors[bad].tolist()]
    return named


def _reasons(problems: list[pd.Series], row_index: pd.Series, source: str) -> pd.Series:
    """Join each row's problems into one reason that names the row; None for a good row.

    A reason quotes the bad value, so it passes `redact`: a secret pasted into a
    column must not reach the ledger through its rejection.
    """
    table = pd.concat(problems, axis=1)
    bad = table.notna().any(axis=1)
    reasons = pd.Series(None, index=table.index, dtype=object)
    for position in np.flatnonzero(bad.to_numpy()):
        parts = [p for p in table.iloc[position].tolist() if not _empty(p)]
        text = f"row {row_index.iloc[position]} of {source}: " + "; ".join(parts)
        reasons.iloc[position] = redact(text)
    return reasons


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _ids(values: pd.Series, label: str) -> tuple[pd.Series, pd.Series]:
    """Ids as stripped strings (None when unusable), and why each bad one was refused.

    An empty or null id is "missing"; a value that cannot be an id (a list, a bool, a
    string with lone surrogates) says so, so that nobody hunts for a blank cell.
    """
    index = values.index
    text_only = pd.api.types.is_string_dtype(values.dtype) and values.dtype != object
    if text_only or pd.api.types.infer_dtype(values, skipna=True) == "string":
        try:  # all text: stripped at once (a lone surrogate refuses, and each is read below)
            stripped = values.str.strip()
        except UnicodeEncodeError:
            pass
        else:
            ids = stripped.astype(object).where(stripped.notna() & (stripped != ""), None)
            missing = pd.Series(f"missing {label}", index=index, dtype=object)
            return ids, missing.where(ids.isna(), None)
    ids: list[str | None] = []
    errors: list[str | None] = []
    for value in values.tolist():
        text = _status_one(value)
        if text is _BAD:
            ids.append(None)
            errors.append(f"{label} is not a usable id: {_excerpt(value)}")
        else:
            ids.append(text)  # type: ignore[arg-type]
            errors.append(f"missing {label}" if text is None else None)
    return pd.Series(ids, index=index, dtype=object), pd.Series(errors, index=index, dtype=object)


def _excerpt(value: Any) -> str:
    """A bad value as the reason quotes it: its repr, cut so a huge cell stays readable."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _statuses(values: pd.Series, allowed: tuple[str, ...]) -> tuple[pd.Series, pd.Series]:
    """Statuses as the API's strings: 1 and 1.0 mean "1"; True, "yes" and 3 are refused.

    A column holds few distinct statuses, so each distinct value is read once.
    Values are told apart by type too: `True == 1`, but True is refused.
    """
    allowed_set = set(allowed)
    choices = ", ".join(allowed)

    def read(value: Any) -> tuple[str | None, str | None]:
        text = _status_one(value)
        if text is _BAD or (text is not None and text not in allowed_set):
            return None, f"value {value!r} is not one of the allowed statuses ({choices})"
        return text, None  # type: ignore[return-value]

    seen: dict[tuple[type, Any], tuple[str | None, str | None]] = {}
    texts: list[str | None] = []
    errors: list[str | None] = []
    for value in values.tolist():
        try:
            found = seen.get((type(value), value))
            if found is None:
                found = seen[(type(value), value)] = read(value)
        except TypeError:  # an unhashable value (a list): read on its own
            found = read(value)
        texts.append(found[0])
        errors.append(found[1])
    index = values.index
    return pd.Series(texts, index=index, dtype=object), pd.Series(errors, index=index, dtype=object)


def _status_one(value: Any) -> str | object | None:
    """A scalar as the API's string, None when empty, `_BAD` when it cannot be one."""
    if _empty(value) or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return _BAD
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating | Decimal):
        number = float(value)
        return str(int(number)) if math.isfinite(number) and number.is_integer() else _BAD
    if isinstance(value, str):
        if not _is_text(value):
            return _BAD
        text = value.strip()
        whole = WHOLE_DECIMAL.fullmatch(text)
        # "1.0" is 1, as a number column's 1.0 is: a CSV read as text writes it so.
        return str(int(whole.group(1))) if whole else (text or None)
    return _BAD


def _is_text(value: str) -> bool:
    """False for a string with lone surrogates (JSON may carry them): no file or API takes one."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
