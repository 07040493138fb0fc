"""A `--state` file checked before the run starts, so a damaged one stops it with one line.

The SDK reads the state as it finds it: a file that is not JSON, or whose
bookmarks have another shape or a value that is not a time, fails deep inside
the first stream, after records may have been emitted and with a traceback. Here
the file is read once, its shape checked, and a problem named (exit 2) before
anything is read from the API.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import IO, Any

from jing_client import JingConfigError


def checked_state(state: IO[str] | None) -> IO[str] | None:
    """The state to hand to the SDK, read and checked; `JingConfigError` names a problem."""
    if state is None:
        return None
    name = getattr(state, "name", "the state")
    text = state.read()
    try:
        document = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise JingConfigError(f"--state {name} is not JSON ({exc}): fix or remove it") from None
    problem = _problem(document)
    if problem:
        raise JingConfigError(
            f"--state {name}: {problem}; fix or remove it (without it the run starts from "
            "start_date)"
        )
    return io.StringIO(text)


def _problem(document: Any) -> str | None:
    if not isinstance(document, dict):
        return f"a state is a JSON object, not {type(document).__name__}"
    bookmarks = document.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        return f"'bookmarks' is an object of streams, not {type(bookmarks).__name__}"
    for stream, bookmark in bookmarks.items():
        where = f"bookmarks.{stream}"
        if not isinstance(bookmark, dict):
            return f"{where} is an object, not {type(bookmark).__name__}"
        partitions = bookmark.get("partitions", [])
        if not isinstance(partitions, list):
            return f"{where}.partitions is a list, not {type(partitions).__name__}"
        for position, partition in enumerate([bookmark, *partitions]):
            at = where if position == 0 else f"{where}.partitions[{position - 1}]"
            if not isinstance(partition, dict):
                return f"{at} is an object, not {type(partition).__name__}"
            if not isinstance(partition.get("context", {}), dict):
                return f"{at}.context is an object"
            problem = _time_problem(partition, at)
            if problem:
                return problem
    return None


def _time_problem(bookmark: dict[str, Any], at: str) -> str | None:
    for key in ("replication_key_value", "starting_replication_value"):
        value = bookmark.get(key)
        if value is None:
            continue
        try:
            datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return f"{at}.{key} is not an ISO 8601 time: {str(value)[:60]!r}"
    return None
