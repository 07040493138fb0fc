"""Singer messages out: the SDK's msgspec writer, with STATE and SCHEMA read as they are.

`singer_sdk.contrib.msgspec.MsgSpecWriter` encodes a RECORD in about a tenth of
the time of the SDK's default (simplejson) writer. For STATE and SCHEMA messages
it builds the dict with `Message.to_dict`, a deep copy through
`dataclasses.asdict`; the tap writes a SCHEMA for every activity partition and
its STATE holds every partition, so with a thousand activities those copies cost
more than all the records' encoding. Here they are encoded from the message's
fields directly, which gives the same JSON.

The SDK's writer also flushes stdout after every message: a write to the pipe
per record. Here stdout is flushed after each STATE message (and at exit), so a
STATE is never held back and every record it covers is out before it; records
left in the buffer by a killed tap are covered by no STATE and are read again.
"""

from __future__ import annotations

import sys
from typing import Any

from singer_sdk.contrib.msgspec import MsgSpecWriter, serialize_jsonl
from singer_sdk.singerlib.encoding.simple import Message, SchemaMessage, StateMessage

#: The fields of a SCHEMA message, in the order the SDK writes them (those set only).
SCHEMA_FIELDS = ("type", "stream", "schema", "key_properties", "bookmark_properties")


class MessageWriter(MsgSpecWriter):
    """Writes each Singer message as one compact JSON line (msgspec) on stdout."""

    def serialize_message(self, message: Message) -> bytearray:
        fields: dict[str, Any]
        if isinstance(message, StateMessage):
            fields = {"type": "STATE", "value": message.value}
        elif isinstance(message, SchemaMessage):
            fields = {
                name: value
                for name in SCHEMA_FIELDS
                if (value := getattr(message, name)) is not None
            }
        else:
            return super().serialize_message(message)
        return serialize_jsonl(fields)

    def write_message(self, message: Message) -> None:
        sys.stdout.buffer.write(self.format_message(message))
        if isinstance(message, StateMessage):
            sys.stdout.flush()
