"""The Singer SDK's private API that both connectors use, in one place.

singer-sdk has no public hook for these. Each use says why, and
`tests/test_sdk_private.py` fails when the SDK renames, removes or reshapes
one of them. The connectors' own uses are in `tap_jing.sdk_private` and
`target_jing.sdk_private`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from singer_sdk.exceptions import ConfigValidationError

# Why: `--config` is parsed by the plugin's `cb_config` into this object, which the
# SDK's `invoke` takes. We build it ourselves so that `ENV` is read through the
# declarations (typed by kind; the SDK passes numbers on as text to a target).
from singer_sdk.plugin_base import _ConfigInput

from jing_client.declarations import Declarations

__all__ = ["ConfigInput", "DeclaredConfig", "config_input"]

ConfigInput = _ConfigInput


def config_input(config: dict[str, Any]) -> ConfigInput:
    """`--config` as read by `jing_singer.config_input`, in the form `invoke` takes."""
    return ConfigInput(config=config, parse_env=False)


class DeclaredConfig:
    """A plugin mixin: the config is checked against the plugin's declarations.

    Why: the SDK's own check (`PluginBase._validate_config`, which its `__init__`
    calls) quotes the refused value, a secret included, and knows nothing of
    unknown names or of checks across settings. This one names the setting,
    hides secrets, refuses unknown names, and fills in the declared defaults (as
    the SDK's validator does), so that `self.config` holds every setting.
    """

    declarations: ClassVar[Declarations]
    _config: dict[str, Any]

    def cross_setting_problems(self, config: dict[str, Any]) -> list[str]:
        """Checks that need more than one setting (each connector adds its own)."""
        return []

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        schema: dict[str, Any] = self.config_jsonschema  # type: ignore[attr-defined]
        self.append_builtin_config(schema)  # type: ignore[attr-defined]
        errors = self.declarations.problems(self._config, known=schema["properties"])
        if not errors:
            self._config.update(self.declarations.with_defaults(self._config))
            errors = self.cross_setting_problems(self._config)
        if errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=errors)
        return errors
