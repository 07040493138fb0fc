"""The JSON schemas of the tap's streams, one file per stream, shipped as package data."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def load_schema(stream_name: str) -> dict[str, Any]:
    """The JSON schema of `stream_name`, read from `<stream_name>.json` beside this module."""
    text = resources.files(__package__).joinpath(f"{stream_name}.json").read_text("utf-8")
    return json.loads(text)
