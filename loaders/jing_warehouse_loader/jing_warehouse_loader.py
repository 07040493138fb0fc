"""The warehouse loader of a Meltano environment: target-postgres or target-duckdb.

A Meltano job names its plugins, and an environment can change their config but
not which plugin runs, so one job (`jing-extract`) could only ever load into one
kind of warehouse. This entry point lets the environment's config choose: with a
PostgreSQL setting (`sqlalchemy_url` or `host`) it runs MeltanoLabs'
target-postgres, otherwise target-duckdb (through its header fix). Both are
installed, pinned, in the plugin's one venv; this script only picks one and
replaces itself with it, arguments and stdin unchanged.
"""

from __future__ import annotations

import json
import os
import sys
from itertools import pairwise
from pathlib import Path

#: Settings that only target-postgres has: their presence means the warehouse is PostgreSQL.
POSTGRES_SETTINGS = ("sqlalchemy_url", "host")


def chosen(argv: list[str]) -> str:
    """The executable that the `--config` files given in `argv` ask for."""
    config: dict[str, object] = {}
    for flag, value in pairwise(argv):
        if flag == "--config" and Path(value).is_file():
            config.update(json.loads(Path(value).read_text()))
    if any(config.get(name) for name in POSTGRES_SETTINGS):
        return "target-postgres"
    return "target-duckdb-header-fix"


def main() -> None:
    argv = sys.argv[1:]
    executable = Path(sys.executable).parent / chosen(argv)  # the same venv's bin/
    os.execv(executable, [str(executable), *argv])


if __name__ == "__main__":
    main()
