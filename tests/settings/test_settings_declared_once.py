"""The declarations are the one home of every setting: everything else is made from them.

meltano.yml, the Hub definitions in plugins/ and the README's tables must hold
exactly what the declarations say; `--about` and the validation read them too.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from jing_client.declarations import Declarations, Setting
from jing_client.settings import CLIENT, CLIENT_SETTINGS, ClientSettings
from tap_jing.settings import TAP_DECLARATIONS
from target_jing.settings import TARGET_DECLARATIONS, TargetSettings

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import plugin_definitions  # noqa: E402

PLUGINS = {"tap-jing": TAP_DECLARATIONS, "target-jing": TARGET_DECLARATIONS}
MELTANO_PLUGINS = {
    ("extractors", "tap-jing"): TAP_DECLARATIONS,
    ("loaders", "target-jing"): TARGET_DECLARATIONS,
    ("utilities", "target-jing-sync"): TARGET_DECLARATIONS,
}
GOOD = {"app_id": "100000000000000000000000001", "app_secret": "s3cr3t-value-not-to-show"}


def _compared(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (
        entry["name"],
        entry.get("label"),
        entry.get("kind"),
        bool(entry.get("sensitive", False)),
        entry.get("value"),
    )


def test_generated_files_match_the_declarations() -> None:
    assert plugin_definitions.stale_files() == []


@pytest.mark.parametrize(("kind", "name"), list(MELTANO_PLUGINS))
def test_meltano_yml_settings_are_the_declarations(kind: str, name: str) -> None:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    plugin = next(p for p in project["plugins"][kind] if p["name"] == name)
    declared = MELTANO_PLUGINS[(kind, name)]
    assert [_compared(e) for e in plugin["settings"]] == [_compared(s.meltano()) for s in declared]


@pytest.mark.parametrize("name", list(PLUGINS))
def test_hub_definition_settings_are_the_declarations(name: str) -> None:
    path = ROOT / plugin_definitions.DEFINITIONS[name]["path"]
    definition = yaml.safe_load(path.read_text())
    assert [_compared(e) for e in definition["settings"]] == [
        _compared(s.meltano()) for s in PLUGINS[name]
    ]
    assert definition["settings_group_validation"] == [["app_id", "app_secret"]]
    for key in ("name", "namespace", "variant", "label", "description", "pip_url"):
        assert definition[key], key
    for key in ("executable", "capabilities", "keywords", "docs", "repo"):
        assert definition[key], key


@pytest.mark.parametrize("name", list(PLUGINS))
def test_readme_table_lists_each_declared_setting_once(name: str) -> None:
    readme = (ROOT / "README.md").read_text()
    begin = plugin_definitions.README_BEGIN.format(plugin=name)
    end = plugin_definitions.README_END.format(plugin=name)
    table = readme[readme.index(begin) : readme.index(end)]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == PLUGINS[name].names


def test_a_client_setting_is_declared_once_for_both_connectors() -> None:
    """Adding a client setting is one edit: both plugins' lists are made from CLIENT_SETTINGS."""
    for setting in CLIENT_SETTINGS:
        for name, declarations in PLUGINS.items():
            if name in setting.plugins:
                assert declarations[setting.name] is setting


def test_a_new_setting_reaches_schema_validation_and_tables() -> None:
    added = Setting("flux_level", "integer", "How much flux.", default=3, minimum=1)
    declarations = Declarations("tap-jing", (*CLIENT_SETTINGS, added))
    schema = declarations.json_schema()["properties"]["flux_level"]
    assert schema["default"] == 3 and schema["minimum"] == 1
    assert "flux_level" in declarations.markdown_table()
    assert declarations.problems({**GOOD, "flux_level": 0}) == [
        "setting 'flux_level' must be a whole number of at least 1, got 0"
    ]
    assert declarations.with_defaults(GOOD)["flux_level"] == 3


@pytest.mark.parametrize("name", list(PLUGINS))
def test_about_shows_every_declared_default(name: str) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / name), "--about", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    properties = json.loads(done.stdout)["settings"]["properties"]
    for setting in PLUGINS[name]:
        assert name in setting.plugins
        if setting.default is not None:
            assert properties[setting.name]["default"] == json.loads(
                json.dumps(
                    list(setting.default) if isinstance(setting.default, tuple) else setting.default
                )
            ), setting.name


def test_typed_settings_take_their_defaults_from_the_declarations() -> None:
    client = ClientSettings.from_config(GOOD)
    for setting in CLIENT:
        if setting.name in client.__dataclass_fields__ and setting.default is not None:
            assert getattr(client, setting.name) == setting.default, setting.name
    target = TargetSettings.from_config(GOOD)
    assert target.batch_size == TARGET_DECLARATIONS.default("batch_size")
    assert target.signin_statuses == TARGET_DECLARATIONS.default("signin_statuses")
    assert target.max_failed_ratio == TARGET_DECLARATIONS.default("max_failed_ratio")


@pytest.mark.parametrize("value", [123, ["a"], {"x": 1}, True, ""])
def test_a_wrongly_typed_secret_is_named_never_shown(value: Any) -> None:
    for declarations in PLUGINS.values():
        problems = declarations.problems({**GOOD, "app_secret": value})
        assert problems and all("app_secret" in p for p in problems)
        assert not any(repr(value) in p for p in problems if value != "")


def test_environment_values_are_typed_by_their_kind() -> None:
    environ = {
        "TARGET_JING_BATCH_SIZE": "50",
        "TARGET_JING_REQUESTS_PER_SECOND": "7.5",
        "TARGET_JING_ALLOW_INSECURE_HTTP": "true",
        "TARGET_JING_SIGNIN_STATUSES": '["0", "1", "9"]',
        "TARGET_JING_THROTTLED_CODES": "42900,42901",
        "TARGET_JING_COLUMN_MAPPING": '{"omni_user_uuid": "member"}',
        "TARGET_JING_MAX_CONCURRENCY": "many",
    }
    found = TARGET_DECLARATIONS.from_environment(environ)
    assert found == {
        "batch_size": 50,
        "requests_per_second": 7.5,
        "allow_insecure_http": True,
        "signin_statuses": ["0", "1", "9"],
        "throttled_codes": [42900, 42901],
        "column_mapping": {"omni_user_uuid": "member"},
        "max_concurrency": "many",  # left as text, for validation to name it
    }
    assert TARGET_DECLARATIONS.problems({**GOOD, **found}) == [
        "setting 'max_concurrency' must be a whole number of at least 1, got 'many'"
    ]


@pytest.mark.parametrize(("kind", "name"), [("extractors", "tap-jing"), ("loaders", "target-jing")])
def test_meltano_yml_plugin_matches_its_hub_definition(kind: str, name: str) -> None:
    """The project's own plugin is the Hub's, installed from the checkout (`-e .`)."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    plugin = next(p for p in project["plugins"][kind] if p["name"] == name)
    definition = plugin_definitions.definition(name)
    for key in ("namespace", "executable", "capabilities"):
        assert plugin[key] == definition[key], key
    extra = definition["pip_url"].removeprefix("jing-connectors")
    editable, package, *pins = plugin["pip_url"].split()
    assert f"{editable} {package}" == f"-e .{extra}"
    # Beside it, only the DuckDB of every warehouse plugin of the project (meltano.yml).
    assert pins in ([], [_project_duckdb(project)])


def _project_duckdb(project: dict) -> str:
    """The DuckDB requirement of the warehouse loader, which the project's plugins share."""
    loader = next(p for p in project["plugins"]["loaders"] if p["name"] == "target-warehouse")
    (pin,) = [part for part in loader["pip_url"].split() if part.startswith("duckdb")]
    return pin


def test_every_missing_required_setting_is_named() -> None:
    assert TARGET_DECLARATIONS.problems({}) == [
        "setting 'app_id' is required",
        "setting 'app_secret' is required",
    ]


@pytest.mark.parametrize(
    "value", [Path("/tmp/ledger.duckdb"), b"bytes", datetime.date(2026, 1, 1), ["a", object()]]
)
def test_a_value_json_has_no_kind_for_is_named(value: Any) -> None:
    """From `sync_dataframe(config=...)` any Python value can come: it is refused by name."""
    assert TARGET_DECLARATIONS.problems({**GOOD, "ledger_schema": value}) == [
        "setting 'ledger_schema' must be a PostgreSQL name: letters, digits and _, not "
        f"starting with a digit, got {value!r}"
    ]
    problems = TARGET_DECLARATIONS.problems({**GOOD, "app_secret": value})
    assert problems == ["setting 'app_secret' must be a string (the value is secret and not shown)"]


def test_json_fractions_read_as_decimal_are_numbers() -> None:
    """The SDK reads `2.5` in a config file as a Decimal."""
    config = {**GOOD, "requests_per_second": Decimal("2.5"), "batch_size": Decimal("20")}
    assert TARGET_DECLARATIONS.problems(config) == []
    assert TARGET_DECLARATIONS.problems({**GOOD, "batch_size": Decimal("0.5")}) == [
        "setting 'batch_size' must be a whole number of at least 1, got Decimal('0.5')"
    ]
