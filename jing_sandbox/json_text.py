"""JSON as the sandbox writes it: UTF-8, with any text that UTF-8 cannot hold escaped.

JSON can carry a lone surrogate (`"\\ud800"`), and a request that holds one is read
into a Python string that UTF-8 cannot encode. Written as UTF-8 text, such a string
made the sandbox drop the connection (an answer) or fail to save (`--db`); written as
its escape, it goes back to the client as JSON carried it in, which is what a client
must cope with from the real API.
"""

from __future__ import annotations

import json
from typing import Any


def json_bytes(document: Any, **options: Any) -> bytes:
    """`document` as UTF-8 JSON; only a document with text UTF-8 cannot hold is escaped."""
    try:
        return json.dumps(document, ensure_ascii=False, **options).encode()
    except UnicodeEncodeError:
        return json.dumps(document, ensure_ascii=True, **options).encode()
