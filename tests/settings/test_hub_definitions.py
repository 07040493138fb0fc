"""The plugin definitions in `plugins/` pass the Meltano Hub's own schema.

The Hub validates every definition against `schemas/plugin_definitions/*.schema.json`
(copied in `tests/hub_schema/`); one that fails it cannot be published there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "tests" / "hub_schema"
DEFINITIONS = {
    "extractors": ROOT / "plugins" / "extractors" / "tap-jing.yml",
    "loaders": ROOT / "plugins" / "loaders" / "target-jing.yml",
}


def _validator(kind: str) -> Draft7Validator:
    """The Hub's validator for `kind`, its relative `$ref`s resolved from the copied files."""
    base = "https://hub.meltano.test/schemas/"
    resources = []
    for path in SCHEMAS.rglob("*.schema.json"):
        contents = json.loads(path.read_text())
        contents["$id"] = base + path.relative_to(SCHEMAS).as_posix()
        resources.append((contents["$id"], Resource.from_contents(contents)))
    registry = Registry().with_resources(resources)
    root = registry.contents(f"{base}plugin_definitions/{kind}.schema.json")
    return Draft7Validator(root, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER)


def _problems(kind: str, definition: dict[str, Any]) -> list[str]:
    return sorted(
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in _validator(kind).iter_errors(definition)
    )


@pytest.mark.parametrize("kind", sorted(DEFINITIONS))
def test_the_definition_passes_the_hubs_schema(kind: str) -> None:
    definition = yaml.safe_load(DEFINITIONS[kind].read_text())
    assert _problems(kind, definition) == []


@pytest.mark.parametrize("kind", sorted(DEFINITIONS))
def test_the_definition_carries_the_hub_metadata_that_maintained_connectors_carry(
    kind: str,
) -> None:
    definition = yaml.safe_load(DEFINITIONS[kind].read_text())
    for key in ("quality", "maintenance_status", "logo_url", "domain_url", "keywords"):
        assert definition.get(key), key
    versions = definition["supported_python_versions"]
    assert versions and all(v.startswith("3.") for v in versions)
    logo = definition["logo_url"].rsplit("/main/", 1)[1]
    assert (ROOT / logo).is_file(), "the logo_url names a file of this repository"


def test_the_check_refuses_what_the_hub_refuses() -> None:
    """The check can fail: a definition without `quality`, or with an unknown capability."""
    definition = yaml.safe_load(DEFINITIONS["extractors"].read_text())
    del definition["quality"]
    definition["capabilities"] = [*definition["capabilities"], "time-travel"]
    definition["unknown_key"] = 1
    problems = "\n".join(_problems("extractors", definition))
    assert "'quality' is a required property" in problems
    assert "time-travel" in problems
    assert "unknown_key" in problems


@pytest.mark.parametrize("kind", sorted(DEFINITIONS))
def test_the_header_shows_a_meltano_add_that_adds_only_this_plugin(kind: str) -> None:
    header = DEFINITIONS[kind].read_text().splitlines()[2]
    assert "meltano add --plugin-type" in header
    assert "--no-install" in header
