"""Singer lines on stdin, read by the SDK's reader with their number and their shape checked.

A line that is not a JSON object, a message of a type Singer does not have, a
message without the fields its type needs (or with fields of another shape),
and a RECORD before its stream's SCHEMA each end the run as bad input
(`InvalidInputLine`, exit 2) with the line's number; `TargetJing.invoke` says so
in one message. Checked here, before the SDK's handlers, so that a malformed
message never reaches code that would fail on it with an unrelated error.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import IO, Any

from singer_sdk.exceptions import RecordsWithoutSchemaException
from singer_sdk.io_base import SingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.singerlib.json import deserialize_json

#: The fields each message type needs, and the JSON shape of each (the Singer spec, and
#: the SDK's BATCH message).
SHAPES: dict[str, dict[str, type | tuple[type, ...]]] = {
    "SCHEMA": {"stream": str, "schema": dict},
    "RECORD": {"stream": str, "record": dict},
    "STATE": {"value": object},
    "ACTIVATE_VERSION": {"stream": str, "version": int},
    "BATCH": {"stream": str, "encoding": dict, "manifest": list},
}
#: Optional fields that have a shape when they are there.
OPTIONAL_SHAPES: dict[str, dict[str, type | tuple[type, ...]]] = {
    "SCHEMA": {"key_properties": (list, type(None)), "bookmark_properties": (list, type(None))},
    "RECORD": {"version": (int, type(None)), "time_extracted": (str, type(None))},
}
_JSON_NAMES = {str: "text", dict: "an object", list: "a list", int: "a whole number"}


class RecordBeforeSchema(InvalidInputLine, RecordsWithoutSchemaException):
    """A RECORD before its stream's SCHEMA, with its line: still the SDK's exception too."""


class SingerLineReader(SingerReader):
    """The SDK's reader, with the line's number in every message about a bad line."""

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0

    def deserialize_json(self, line: str) -> dict:
        self.line_number += 1
        try:
            message = deserialize_json(line)
        except ValueError as exc:
            raise InvalidInputLine(
                f"line {self.line_number} is not JSON ({exc}): {line[:200]}"
            ) from None
        problem = shape_problem(message)
        if problem:
            raise InvalidInputLine(f"line {self.line_number}: {problem}")
        return message

    def process_lines(
        self, file_input: IO[str] | None, callbacks: dict[str, Callable[[dict], None]]
    ) -> Counter[str]:
        def numbered(callback: Callable[[dict], None]) -> Callable[[dict], None]:
            def call(message: dict) -> None:
                try:
                    callback(message)
                except RecordsWithoutSchemaException as exc:
                    raise RecordBeforeSchema(f"line {self.line_number}: {exc}") from None
                except InvalidInputLine as exc:
                    raise InvalidInputLine(f"line {self.line_number}: {exc}") from None

            return call

        return super().process_lines(
            file_input, {kind: numbered(callback) for kind, callback in callbacks.items()}
        )


def shape_problem(message: Any) -> str | None:
    """What is wrong with a Singer message's shape, or None."""
    if not isinstance(message, dict):
        return f"a Singer message is a JSON object, not {type(message).__name__}"
    kind = message.get("type")
    known = ", ".join(sorted(SHAPES))
    if kind is None:
        return f"a Singer message needs a 'type' (one of {known})"
    if not isinstance(kind, str) or kind not in SHAPES:
        return f"{repr(kind)[:50]} is not a Singer message type (known: {known})"
    for name, shape in SHAPES[kind].items():
        if name not in message:
            return f"the {kind} message has no '{name}'"
        if not _has_shape(message[name], shape):
            return f"the {kind} message's '{name}' must be {_name(shape)}"
    for name, shape in OPTIONAL_SHAPES.get(kind, {}).items():
        if name in message and not _has_shape(message[name], shape):
            return f"the {kind} message's '{name}' must be {_name(shape)}"
    return None


def _has_shape(value: Any, shape: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool) and shape is int:
        return False
    return isinstance(value, shape)


def _name(shape: type | tuple[type, ...]) -> str:
    first = shape[0] if isinstance(shape, tuple) else shape
    return _JSON_NAMES.get(first, first.__name__)
