"""An answer's body is read as `json` reads it, though orjson reads it first.

`jing_client.client._json` tries orjson and gives what it refuses to `json`, so
what counts as JSON (and what it decodes to) must be `json.loads`'s, down to NaN,
lone surrogates, other encodings and deep nesting. Two differences are kept: an
integer past 64 bits in the data reads as a float (no JING answer holds one), and a
lone surrogate in a string (a key or a value) is kept as its escape, which UTF-8 can hold.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from jing_client.client import _json


def _json_reads(content: bytes) -> Any:
    """What `json` alone makes of `content` (None: not a JSON document), each lone
    surrogate written as its escape."""
    try:
        document = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)  # `json` reads nesting deeper than the default limit
    try:
        return _escaped(document)
    finally:
        sys.setrecursionlimit(limit)


def _escaped(document: Any) -> Any:
    if isinstance(document, str):
        return "".join(f"\\u{ord(c):04x}" if 0xD800 <= ord(c) <= 0xDFFF else c for c in document)
    if isinstance(document, list):
        return [_escaped(item) for item in document]
    if isinstance(document, dict):
        return {_escaped(key): _escaped(value) for key, value in document.items()}
    return document


def _same(content: bytes) -> None:
    # repr tells 1 from 1.0 and True from 1, and holds NaN equal to itself.
    assert repr(_json(content)) == repr(_json_reads(content)), content[:200]


_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | _TEXT
)
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_TEXT, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(_DOCUMENTS, st.booleans(), st.sampled_from(["utf-8", "utf-16", "utf-32", "utf-8-sig"]))
def test_a_document_reads_as_json_reads_it(document: Any, ascii_only: bool, encoding: str) -> None:
    text = json.dumps(document, ensure_ascii=ascii_only)
    _same(text.encode(encoding, "surrogatepass"))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=60))
def test_any_bytes_read_as_json_reads_them(content: bytes) -> None:
    _same(content)


def test_the_edges_that_orjson_refuses_read_as_json_reads_them() -> None:
    edges = [
        b'{"code": NaN}',
        b'{"code": Infinity, "x": -Infinity}',
        b'{"code": 123456789012345678901234567890, "data": []}',
        b'{"code": -9223372036854775809}',
        b'{"msg": "\\ud800"}',
        b'{"msg": "\xed\xa0\x80"}',  # a surrogate written as UTF-8 bytes
        b"\xef\xbb\xbf" + b'{"code": 0}',
        '{"code": 0, "msg": "ok"}'.encode("utf-16"),
        b'{"code": 0, "code": 1}',
        b"[" * 100_000 + b"]" * 100_000,  # nesting past both readers
        b"[" * 1_500 + b"]" * 1_500,  # past orjson's depth, within json's
        b'{"code": 1e400}',
        b"",
        b"  ",
        b'{"code": 0} trailing',
    ]
    for content in edges:
        _same(content)


def test_an_integer_past_64_bits_in_the_data_reads_as_a_float() -> None:
    """The difference that `_json` keeps, and where: not in the envelope's code."""
    assert _json(b'{"code": 0, "data": [123456789012345678901234567890]}') == {
        "code": 0,
        "data": [1.2345678901234568e29],
    }
    assert _json(b'{"code": 18446744073709551616}') == {"code": 18446744073709551616}
