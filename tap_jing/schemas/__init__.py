"""The JSON schemas of the tap's streams, one `<stream>.json` file per stream, as package data.

Read through the SDK's own schema source (`SchemaDirectory`, which caches each file).
"""

from __future__ import annotations

import sys

from singer_sdk.schema.source import SchemaDirectory

SCHEMAS = SchemaDirectory(sys.modules[__name__])
