"""One declaration per setting, and everything that is derived from it.

A setting is declared once, as a `Setting`: its name, type, default, bounds or
allowed values, whether it is secret, and why it exists. From that one entry
come the JSON schema the Singer SDK validates and `--about` shows, the messages
that name a bad setting, the defaults of the typed settings objects, the
settings of the Meltano plugin definitions and the README tables. The
client's settings (`jing_client.settings.CLIENT_SETTINGS`) are shared by
both connectors; each connector adds its own.

Messages never quote the value of a secret setting, whatever is wrong with it.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import jsonschema_rs

Kind = Literal["string", "integer", "number", "boolean", "array", "object", "date_time"]

#: The plugins a setting acts on.
TAP = "tap-jing"
TARGET = "target-jing"
BOTH = frozenset({TAP, TARGET})

#: Meltano's name for each kind (`kind:` in meltano.yml and the Hub's definitions).
MELTANO_KINDS: dict[str, str] = {
    "string": "string",
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
    "date_time": "date_iso8601",
}

#: Words written in capitals in a setting's label.
_LABEL_WORDS = {"id": "ID", "ids": "IDs", "url": "URL", "http": "HTTP", "api": "API"}
#: Environment text read as true, as the Singer SDK reads it.
_TRUE = frozenset({"true", "1", "yes", "on", "t", "y"})


@dataclass(frozen=True)
class Setting:
    """One setting: everything a user, a validator or a plugin definition needs to know."""

    name: str
    kind: Kind
    description: str
    default: Any = None
    required: bool = False
    secret: bool = False
    #: Identifies the account beside a secret (`app_id`): not secret, but a wrongly typed
    #: value may be a secret pasted into the wrong field, so no message quotes it.
    credential: bool = False
    #: Bounds of a number; `exclusive_minimum` for "above", `minimum` for "at least".
    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None
    #: The values allowed, for a setting that takes one of a few.
    enum: tuple[str, ...] | None = None
    #: The kind of an array's items.
    items: Kind | None = None
    #: Which plugins it acts on (the client's settings may act on one only).
    plugins: frozenset[str] = BOTH
    #: Another JSON-schema fragment for the value (an object's values, a string's length).
    extra_schema: Mapping[str, Any] = field(default_factory=dict)
    #: What a valid value looks like, where the kind and bounds do not say it all.
    rule: str | None = None

    @property
    def label(self) -> str:
        words = self.name.split("_")
        return " ".join(
            _LABEL_WORDS.get(word, word.capitalize() if i == 0 else word)
            for i, word in enumerate(words)
        )

    @property
    def meltano_kind(self) -> str:
        return MELTANO_KINDS[self.kind]

    def json_schema(self) -> dict[str, Any]:
        """The JSON-schema property of this setting (the SDK's form: `type` a list)."""
        schema: dict[str, Any]
        if self.kind == "date_time":
            schema = {"type": ["string"], "format": "date-time"}
        else:
            schema = {"type": [self.kind] if self.required else [self.kind, "null"]}
        if self.kind == "array":
            schema["items"] = {"type": [self.items or "string"]}
        for key, value in (
            ("minimum", self.minimum),
            ("exclusiveMinimum", self.exclusive_minimum),
            ("maximum", self.maximum),
        ):
            if value is not None:
                schema[key] = value
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        schema.update(self.extra_schema)
        if self.default is not None:
            schema["default"] = _plain(self.default)
        if self.secret:
            schema["secret"] = True
            schema["writeOnly"] = True
        schema["title"] = self.label
        schema["description"] = self.description
        return schema

    def meltano(self) -> dict[str, Any]:
        """This setting as a Meltano plugin setting (meltano.yml and the Hub's format)."""
        entry: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "kind": self.meltano_kind,
            "description": self.description,
        }
        if self.secret:
            entry["sensitive"] = True
        if self.default is not None:
            entry["value"] = _plain(self.default)
        return entry

    def expectation(self) -> str:
        """What a valid value looks like, in words, for messages."""
        if self.rule:
            return self.rule
        words = {
            "string": "a string",
            "integer": "a whole number",
            "number": "a number",
            "boolean": "true or false",
            "array": f"a list of {'whole numbers' if self.items == 'integer' else 'strings'}",
            "object": "an object",
            "date_time": "an ISO 8601 date-time",
        }[self.kind]
        if self.minimum is not None:
            words += f" of at least {_plain(self.minimum)}"
        if self.exclusive_minimum is not None:
            words += f" above {_plain(self.exclusive_minimum)}"
        if self.maximum is not None:
            words += f" of at most {_plain(self.maximum)}"
        if self.enum is not None:
            words = f"one of {', '.join(self.enum)}"
        return words


class Declarations:
    """The settings of one plugin, in the order users read them."""

    def __init__(self, plugin: str | None, settings: Iterable[Setting]) -> None:
        """The settings of `settings` that act on `plugin` (all of them for None)."""
        self.plugin = plugin
        self._settings = {s.name: s for s in settings if plugin is None or plugin in s.plugins}
        self._compiled: jsonschema_rs.Draft7Validator | None = None

    def __iter__(self) -> Iterator[Setting]:
        return iter(self._settings.values())

    def __getitem__(self, name: str) -> Setting:
        return self._settings[name]

    def __contains__(self, name: object) -> bool:
        return name in self._settings

    @property
    def names(self) -> list[str]:
        return list(self._settings)

    def default(self, name: str) -> Any:
        return self._settings[name].default

    def json_schema(self) -> dict[str, Any]:
        """The plugin's config schema, as the Singer SDK takes it in `config_jsonschema`."""
        return {
            "type": "object",
            "properties": {s.name: s.json_schema() for s in self},
            "required": [s.name for s in self if s.required],
        }

    def problems(
        self, config: Mapping[str, Any], *, known: Iterable[str] = (), unknown: bool = True
    ) -> list[str]:
        """Every problem of `config`, each naming its setting.

        JSON schema does the checks of one value (type, bounds, allowed values,
        required). With `unknown`, a name that is neither declared nor in `known`
        (the SDK's built-in settings) is a problem too, with a did-you-mean: a
        misspelt setting must not be ignored. A message quotes the value it refuses
        only when the setting is not secret.
        """
        names = set(self._settings) | set(known)
        found = (
            [
                f"unknown setting {key!r}{_did_you_mean(key, names)}"
                for key in sorted(set(config) - names)
            ]
            if unknown
            else []
        )
        readable: dict[str, Any] = {}
        refused: list[tuple[list[Any], str]] = []
        for name, value in config.items():
            plain = _json_value(value)
            if plain is _UNREADABLE:  # no JSON value: no kind can take it
                refused.append(([name], self._refusal(name, plain, config)))
            else:
                readable[name] = plain
        for error in self._validator().iter_errors(readable):
            if isinstance(error.kind, jsonschema_rs.ValidationErrorKind.Required):
                if error.kind.property not in config:  # else refused above, as unreadable
                    refused.append(([], f"setting {error.kind.property!r} is required"))
            else:
                path = list(error.instance_path)
                refused.append((path, self._refusal(path[0], error.instance, config)))
        for _, message in sorted(refused, key=lambda item: item[0]):
            if message not in found:
                found.append(message)
        return found

    def _validator(self) -> jsonschema_rs.Draft7Validator:
        """The checks of one value each, made once: `jsonschema_rs`, which imports in a
        few milliseconds (the `jsonschema` package's import took 50 ms of every run).

        Formats are not checked, as the SDK's validation does not check them either.
        """
        if self._compiled is None:
            self._compiled = jsonschema_rs.Draft7Validator(
                self.json_schema(), validate_formats=False
            )
        return self._compiled

    def _refusal(self, name: str, instance: Any, config: Mapping[str, Any]) -> str:
        """Why setting `name` is refused for `instance` (its value, or a part of it); the
        value is quoted only if it is not secret."""
        setting = self._settings.get(name)
        if setting is None:
            return f"setting {name!r} is not valid"
        if setting.required and (instance is None or instance == ""):
            return f"setting {name!r} is required"
        expected = setting.expectation()
        if setting.secret:
            return f"setting {name!r} must be {expected} (the value is secret and not shown)"
        if setting.credential:
            return f"setting {name!r} must be {expected} (a credential: the value is not shown)"
        return f"setting {name!r} must be {expected}, got {_shown(config[name])}"

    def with_defaults(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """`config` with every declared default filled in where it is missing or null."""
        filled = {s.name: _plain(s.default) for s in self if s.default is not None}
        for key, value in config.items():
            if value is None:
                continue
            value = _plain(value)
            setting = self._settings.get(key)
            if setting and setting.kind == "integer" and isinstance(value, float):
                value = int(value) if value.is_integer() else value
            filled[key] = value
        return filled

    @property
    def env_prefix(self) -> str:
        """`TAP_JING_` for tap-jing: the Singer SDK's and Meltano's convention."""
        return (self.plugin or "jing").upper().replace("-", "_") + "_"

    def from_environment(self, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The settings given as `<PREFIX><NAME>` variables, typed by their declared kind.

        Meltano hands settings to plugin commands as environment variables, as
        text. A value that does not read as its kind is passed on as text, so
        that validation names the setting (and hides it if it is secret).
        """
        environ = os.environ if environ is None else environ
        found: dict[str, Any] = {}
        for setting in self:
            text = environ.get(self.env_prefix + setting.name.upper())
            if text is not None:
                found[setting.name] = _from_text(setting, text)
        return found

    def unknown_in_environment(
        self, environ: Mapping[str, str] | None = None, *, known: Iterable[str] = ()
    ) -> list[str]:
        """`unknown_variables` of this plugin's prefix (`known`: the SDK's own settings too)."""
        environ = os.environ if environ is None else environ
        return unknown_variables(environ, self.env_prefix, {*self._settings, *known})

    def markdown_table(self) -> str:
        """The README table of these settings."""
        lines = [
            "| Setting | Kind | Default | Description |",
            "|:--|:--|:--|:--|",
        ]
        for s in self:
            name = f"`{s.name}`" + (" (required)" if s.required else "")
            if s.secret:
                name += " (secret)"
            default = "" if s.default is None else f"`{json.dumps(_plain(s.default))}`"
            description = s.description.replace("|", "&#124;")
            lines.append(f"| {name} | {s.meltano_kind} | {default} | {description} |")
        return "\n".join(lines)


#: Variables of a plugin's prefix that are not its settings: the Singer SDK's log level.
_NOT_SETTINGS = frozenset({"loglevel"})


def unknown_variables(environ: Mapping[str, str], prefix: str, names: Iterable[str]) -> list[str]:
    """A problem for each `<prefix><NAME>` variable that names no setting, with a did-you-mean.

    Such a variable is a setting meant for this plugin and misspelt (by hand, or
    by `meltano config set`, which hands undeclared settings on as variables too):
    ignored, the run would go on with the default. Not settings: `<prefix>LOGLEVEL`
    (the SDK's log level), Meltano's extras (`<prefix>_SELECT`: a double `_`), and a
    setting of a plugin whose name extends this one's (Meltano hands a plugin
    `target-jing-sync` its settings as `TARGET_JING_SYNC_<SETTING>` too). The
    variable's value is never quoted.
    """
    names = set(names)
    found = []
    for variable in sorted(environ):
        if not variable.startswith(prefix):
            continue
        name = variable[len(prefix) :].lower()
        if name in names or name in _NOT_SETTINGS or not name or "__" in f"_{name}":
            continue
        if any(name.endswith("_" + known) for known in names):
            continue  # another plugin's prefix: `sync_` + a setting
        close = difflib.get_close_matches(name, list(names), n=1)
        hint = f"; did you mean {close[0]!r} ({prefix}{close[0].upper()})?" if close else ""
        found.append(f"unknown setting {name!r} (the environment variable {variable}){hint}")
    return found


def plain_number(value: Any) -> Any:
    """JSON fractions read as `Decimal` (the SDK does) are the floats they stand for."""
    return float(value) if isinstance(value, Decimal) else value


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return plain_number(value)


#: A value made of something JSON has no kind for (a date, a path, bytes).
_UNREADABLE = object()


def _json_value(value: Any) -> Any:
    """`value` in JSON's own types (a `Decimal` read as the float it stands for), or
    `_UNREADABLE`: the validator takes JSON's types only."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        items = [_json_value(item) for item in value]
        if _UNREADABLE in items:
            return _UNREADABLE
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        items = {key: _json_value(item) for key, item in value.items()}
        return _UNREADABLE if _UNREADABLE in items.values() else items
    return _UNREADABLE


def _did_you_mean(key: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(names), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _from_text(setting: Setting, text: str) -> Any:
    """Environment text as the setting's kind; text that does not read stays text."""
    try:
        if setting.kind == "integer":
            return int(text)
        if setting.kind == "number":
            return float(text)
        if setting.kind == "boolean":
            return text.strip().lower() in _TRUE
        if setting.kind in ("array", "object"):
            if setting.kind == "array" and not text.lstrip().startswith("["):
                parts = [part.strip() for part in text.split(",") if part.strip()]
                return [int(p) for p in parts] if setting.items == "integer" else parts
            return json.loads(text)
    except ValueError:
        return text
    return text
