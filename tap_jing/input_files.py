"""The `--state` and `--catalog` files, checked before the run starts, so that a damaged
one stops it with one line.

The SDK reads both as it finds them: a file that is not JSON, a state whose
bookmarks have another shape or a value that is not a time, a catalog whose
streams lack their id or schema, fails deep inside the first stream, after
records may have been emitted and with a traceback. Here each file is read once,
its shape checked, and a problem named (exit 2) before anything is read from the
API.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import datetime
from typing import IO, Any

from jing_client import JingConfigError


def checked_state(state: IO[str] | None) -> IO[str] | None:
    """The state to hand to the SDK, read and checked; `JingConfigError` names a problem."""
    return _checked(
        state,
        "--state",
        _state_problem,
        "fix or remove it (without it the run starts from start_date)",
    )


def checked_catalog(catalog: IO[str] | None) -> IO[str] | None:
    """The catalog to hand to the SDK, read and checked; `JingConfigError` names a problem."""
    return _checked(
        catalog, "--catalog", _catalog_problem, "write it anew with tap-jing --discover"
    )


def _checked(
    given: IO[str] | None, option: str, problem_of: Callable[[Any], str | None], fix: str
) -> IO[str] | None:
    if given is None:
        return None
    name = getattr(given, "name", option)
    text = given.read()
    try:
        document = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise JingConfigError(f"{option} {name} is not JSON ({exc}): {fix}") from None
    problem = problem_of(document)
    if problem:
        raise JingConfigError(f"{option} {name}: {problem}; {fix}")
    return io.StringIO(text)


def _catalog_problem(document: Any) -> str | None:
    if not isinstance(document, dict):
        return f"a catalog is a JSON object, not {type(document).__name__}"
    streams = document.get("streams")
    if not isinstance(streams, list):
        return "a catalog's 'streams' is a list"
    for position, stream in enumerate(streams):
        at = f"streams[{position}]"
        if not isinstance(stream, dict):
            return f"{at} is an object, not {type(stream).__name__}"
        if not isinstance(stream.get("tap_stream_id"), str):
            return f"{at} has no 'tap_stream_id'"
        if not isinstance(stream.get("schema"), dict):
            return f"{at} ({stream['tap_stream_id']}) has no 'schema' object"
        metadata = stream.get("metadata", [])
        if not isinstance(metadata, list) or not all(isinstance(m, dict) for m in metadata):
            return f"{at} ({stream['tap_stream_id']}): 'metadata' is a list of objects"
    return None


def _state_problem(document: Any) -> str | None:
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
