"""`--config` for both connectors: files merged in order, then `ENV` read by the declarations.

A file that cannot be read or is not a JSON object is a configuration mistake
(exit 2), never a traceback. Environment variables (`TAP_JING_*`,
`TARGET_JING_*`, as Meltano hands settings to plugin commands) are typed by
each setting's declared kind, so a number arrives as a number.

It imports nothing of the Singer SDK: `target-jing sync` reads its config here
and never loads the SDK (start-up time). `jing_singer.sdk_private.config_input`
hands the result to the SDK's command line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from jing_client import JingConfigError
from jing_client.declarations import Declarations, plain_number
from jing_client.redact import register_secret


def read_config(
    values: Sequence[str],
    declarations: Declarations,
    environ: Mapping[str, str] | None = None,
    *,
    known: Iterable[str] = (),
) -> dict[str, Any]:
    """Merge the `--config` files (later wins), then the environment when `ENV` is given.

    Raises `JingConfigError` naming the file for one that cannot be read, and
    naming each variable of the plugin's prefix that is no setting (declared, or
    in `known`: the SDK's own), with or without `ENV`: a misspelt variable must not
    leave the run on a default. Every secret found is registered for redaction
    before anything can log it.
    """
    unknown = declarations.unknown_in_environment(environ, known=known)
    if unknown:
        raise JingConfigError("; ".join(unknown))
    config: dict[str, Any] = {}
    for value in values:
        if value == "ENV":
            config |= declarations.from_environment(environ)
        else:
            config |= _read_file(value)
    for setting in declarations:
        if setting.secret and isinstance(config.get(setting.name), str):
            register_secret(config[setting.name])
    return config


def _read_file(path: str) -> dict[str, Any]:
    try:
        loaded = json.loads(Path(path).read_text(encoding="utf-8"), parse_float=Decimal)
    except OSError as exc:
        raise JingConfigError(f"cannot read --config {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise JingConfigError(f"--config {path} is not JSON: {exc}") from None
    if not isinstance(loaded, dict):
        raise JingConfigError(f"--config {path} must hold a JSON object of settings")
    return {key: plain_number(value) for key, value in loaded.items()}
