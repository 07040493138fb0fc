"""Fixtures for the end-to-end runs: one shared `meltano install`, one project copy a test.

Each test runs the real project in a copy of its own (meltano.yml and transform/),
so that tests in parallel never share a warehouse, a ledger or Meltano's state
database. The copy links the installed plugin venvs and `.venv` of the real
project, so `meltano install` runs once (the first run installs; later runs find
the plugins up to date in `.meltano/`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from jing_sandbox.process import SandboxProcess
from orchestrate.meltano_commands import PROJECT_DIR, install_plugins

PLUGIN_DIRS = ("extractors", "loaders", "utilities")
#: The statuses that each test starts from: small, and not throttled.
PIPELINE_SANDBOX = {"activities": 6, "users": 200, "registrations": 600, "rate_limit": 10000}


@pytest.fixture(scope="session")
def meltano_installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project with its Meltano plugins installed (once per test worker, under a lock)."""
    install_plugins(log=tmp_path_factory.mktemp("install") / "meltano-install.log")
    return PROJECT_DIR


@pytest.fixture
def project_copy(meltano_installed: Path, tmp_path: Path) -> Path:
    """A private copy of the project that shares the installed plugins and `.venv`."""
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy2(meltano_installed / "meltano.yml", copy / "meltano.yml")
    shutil.copytree(meltano_installed / "transform", copy / "transform")
    (copy / ".venv").symlink_to(meltano_installed / ".venv")
    (copy / ".meltano").mkdir()
    for name in PLUGIN_DIRS:
        if (meltano_installed / ".meltano" / name).is_dir():
            (copy / ".meltano" / name).symlink_to(meltano_installed / ".meltano" / name)
    return copy


@pytest.fixture
def pipeline_sandbox() -> Iterator[SandboxProcess]:
    """A small sandbox for one pipeline run; stopped at teardown."""
    with SandboxProcess(**PIPELINE_SANDBOX) as sandbox:
        yield sandbox
