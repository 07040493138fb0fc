"""Write, or check, everything that repeats the settings' declarations.

    python scripts/plugin_definitions.py --write   # after changing a declaration
    python scripts/plugin_definitions.py --check   # what the tests run

From `tap_jing.settings.TAP_DECLARATIONS` and `target_jing.settings.TARGET_DECLARATIONS`
it makes the Meltano Hub plugin definitions (`plugins/`), the settings of the
project's own meltano.yml and the README's settings tables, so that none of them
is kept in step by hand.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from jing_client.declarations import Declarations
from tap_jing.settings import TAP_DECLARATIONS
from target_jing.settings import TARGET_DECLARATIONS

ROOT = Path(__file__).resolve().parent.parent
REPO = "https://github.com/jing-connectors/jing-connectors"
RAW = "https://raw.githubusercontent.com/jing-connectors/jing-connectors/main"

#: The Hub's metadata, the same for both connectors (keys as MeltanoLabs' definitions carry).
#: `quality` is the Hub's rating scale (gold, silver, bronze); silver: tested end to end
#: and documented, not yet proven in many teams' production.
HUB_METADATA: dict[str, Any] = {
    "maintenance_status": "active",
    "quality": "silver",
    "domain_url": "https://jingopenapi.jingsocial.com",
    "logo_url": f"{RAW}/docs/assets/jing-logo.svg",
    "supported_python_versions": ["3.11", "3.12", "3.13"],
}

#: The fixed parts of each plugin's definition; the settings come from the declarations.
DEFINITIONS: dict[str, dict[str, Any]] = {
    "tap-jing": {
        "path": "plugins/extractors/tap-jing.yml",
        "declarations": TAP_DECLARATIONS,
        "definition": {
            "name": "tap-jing",
            "namespace": "tap_jing",
            "variant": "jing-connectors",
            "label": "JING",
            "description": "Activities, their registrations with sign-in and approval status, "
            "and users from the JING marketing cloud (JINGdigital / JingSocial) Open API",
            "pip_url": "jing-connectors",
            "executable": "tap-jing",
            "capabilities": [
                "catalog",
                "discover",
                "state",
                "about",
                "stream-maps",
                "schema-flattening",
                "batch",
                "structured-logging",
            ],
            "keywords": ["meltano_sdk", "jing", "marketing", "events"],
            "docs": f"{REPO}#tap-jing",
            "repo": REPO,
        },
    },
    "target-jing": {
        "path": "plugins/loaders/target-jing.yml",
        "declarations": TARGET_DECLARATIONS,
        "definition": {
            "name": "target-jing",
            "namespace": "target_jing",
            "variant": "jing-connectors",
            "label": "JING (status write-back)",
            "description": "Reverse ETL: write registrants' sign-in and approval statuses back "
            "to the JING marketing cloud, sending only what changed, with a per-row ledger",
            # The postgres extra too: the ledger on PostgreSQL (`ledger_url`) and `sync --postgres`.
            "pip_url": "jing-connectors[target,postgres]",
            "executable": "target-jing",
            "capabilities": ["about", "stream-maps", "schema-flattening", "structured-logging"],
            "keywords": ["meltano_sdk", "jing", "reverse-etl", "marketing", "events"],
            "docs": f"{REPO}#target-jing",
            "repo": REPO,
            "commands": {
                "sync": {
                    "args": "sync --config ENV",
                    "description": "Write statuses back from a DuckDB table or query, or a "
                    "CSV/Parquet file: --duckdb PATH (--table NAME | --query SQL) or --file "
                    "PATH, with --dry-run or --full. The last stdout line is the JSON summary.",
                },
                "pending": {
                    "args": "pending --config ENV",
                    "description": "See and act on rows that wait in jing_pending: list, retry or "
                    "drop, with --activity ID, --user ID, --state pending|given_up|permanent, "
                    "--reason TEXT and --format json.",
                },
                "runs": {
                    "args": "runs --config ENV",
                    "description": "The ledger's last runs; `runs show RUN_ID [--outcome X]` lists "
                    "one run's rows with their outcomes and reasons.",
                },
            },
        },
    },
}

#: meltano.yml plugins whose settings are the declarations' (the utility shares the loader's).
MELTANO_PLUGINS = {
    ("extractors", "tap-jing"): "tap-jing",
    ("loaders", "target-jing"): "target-jing",
    ("utilities", "target-jing-sync"): "target-jing",
}

#: Between these lines, meltano.yml's settings are written by this script.
MELTANO_BEGIN = "# settings of {plugin}: written by scripts/plugin_definitions.py"
MELTANO_END = "# end of the settings of {plugin}"
README_BEGIN = "<!-- settings table of {plugin}: written by scripts/plugin_definitions.py -->"
README_END = "<!-- end of the settings table of {plugin} -->"


def settings_of(declarations: Declarations) -> list[dict[str, Any]]:
    return [setting.meltano() for setting in declarations]


def definition(plugin: str) -> dict[str, Any]:
    """The Hub definition of `plugin`, settings included."""
    spec = DEFINITIONS[plugin]
    found = {**spec["definition"], **HUB_METADATA}
    found["settings_group_validation"] = [["app_id", "app_secret"]]
    found["settings"] = settings_of(spec["declarations"])
    return found


def definition_text(plugin: str) -> str:
    header = (
        f"# The Meltano Hub definition of {plugin}, written by scripts/plugin_definitions.py\n"
        "# from the settings' declarations. Add it to a project with\n"
        f"#   meltano add --plugin-type {_kind(plugin)} {plugin} --from-ref <this file or its URL>"
        " --no-install\n"
    )
    return header + _yaml(definition(plugin))


def meltano_block(plugin: str, indent: int) -> str:
    """The settings list of `plugin` as meltano.yml holds it, at `indent` spaces."""
    body = _yaml(settings_of(DEFINITIONS[plugin]["declarations"]))
    pad = " " * indent
    return "".join(pad + line + "\n" for line in body.splitlines())


def rewrite_between(text: str, begin: str, end: str, make: Callable[[int], str]) -> str:
    """`text` with what lies between the `begin` and `end` lines replaced by `make(indent)`."""
    start = text.index(begin)
    line_start = text.rindex("\n", 0, start) + 1
    indent = start - line_start
    body_start = text.index("\n", start) + 1
    stop = text.index(end, body_start)
    stop_line = text.rindex("\n", 0, stop) + 1
    return text[:body_start] + make(indent) + text[stop_line:]


def expected_files() -> dict[Path, str]:
    """Every file this script writes, with the text it should hold."""
    files = {ROOT / spec["path"]: definition_text(name) for name, spec in DEFINITIONS.items()}
    meltano = (ROOT / "meltano.yml").read_text()
    readme = (ROOT / "README.md").read_text()
    for plugin, spec in DEFINITIONS.items():
        meltano = rewrite_between(
            meltano,
            MELTANO_BEGIN.format(plugin=plugin),
            MELTANO_END.format(plugin=plugin),
            lambda indent, p=plugin: meltano_block(p, indent),
        )
        table = spec["declarations"].markdown_table()
        readme = rewrite_between(
            readme,
            README_BEGIN.format(plugin=plugin),
            README_END.format(plugin=plugin),
            lambda _indent, t=table: t + "\n",
        )
    files[ROOT / "meltano.yml"] = meltano
    files[ROOT / "README.md"] = readme
    return files


def stale_files() -> list[str]:
    """The files whose text differs from what the declarations make."""
    return [
        str(path.relative_to(ROOT))
        for path, text in expected_files().items()
        if not path.exists() or path.read_text() != text
    ]


def _kind(plugin: str) -> str:
    return Path(DEFINITIONS[plugin]["path"]).parent.name.rstrip("s")


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.write:
        for path, text in expected_files().items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return 0
    stale = stale_files()
    for name in stale:
        print(f"{name} differs from the settings' declarations; run --write", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
