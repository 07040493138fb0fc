"""The commands' process tuning (`jing_singer.process`), checked in a fresh interpreter.

Each check runs in a child process: freezing the collector or setting the
environment inside the test worker would change every later test.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _child(code: str, **env: str) -> str:
    chosen = ("OPENBLAS_NUM_THREADS", "ARROW_DEFAULT_MEMORY_POOL")
    environment = {k: v for k, v in os.environ.items() if k not in chosen} | env
    done = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.mark.parametrize(("given", "kept"), [({}, "1"), ({"OPENBLAS_NUM_THREADS": "3"}, "3")])
def test_one_blas_thread_unless_the_user_chose(given: dict[str, str], kept: str) -> None:
    code = (
        "import os; from jing_singer.process import one_blas_thread; one_blas_thread(); "
        "print(os.environ['OPENBLAS_NUM_THREADS'])"
    )
    assert _child(code, **given) == kept


def test_the_sync_command_sets_one_blas_thread_before_numpy_loads() -> None:
    """`target-jing sync --help` reaches the options parser after the setting is made."""
    code = (
        "import os, sys; from target_jing.cli import main\n"
        "try:\n    main(['sync', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(os.environ.get('OPENBLAS_NUM_THREADS'), 'numpy' in sys.modules)"
    )
    assert _child(code).splitlines()[-1] == "1 False"


@pytest.mark.parametrize(
    ("given", "pool"), [({}, "system"), ({"ARROW_DEFAULT_MEMORY_POOL": "jemalloc"}, "jemalloc")]
)
def test_the_target_command_has_pyarrow_allocate_with_malloc_unless_the_user_chose(
    given: dict[str, str], pool: str
) -> None:
    """pyarrow, imported after `target-jing` set its allocator, allocates with it."""
    code = (
        "import sys; from target_jing.cli import main\n"
        "try:\n    main(['sync', '--help'])\nexcept SystemExit:\n    pass\n"
        "loaded = 'pyarrow' in sys.modules\n"
        "import pyarrow\n"
        "print(loaded, pyarrow.default_memory_pool().backend_name)"
    )
    assert _child(code, **given).splitlines()[-1] == f"False {pool}"


def test_the_tap_command_sets_one_blas_thread() -> None:
    """`tap-jing --about` runs in a process with one OpenBLAS thread and frozen imports."""
    code = (
        "import gc, os, sys; from tap_jing.cli import main\n"
        "sys.argv = ['tap-jing', '--about']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(os.environ.get('OPENBLAS_NUM_THREADS'), gc.get_freeze_count() > 1000)"
    )
    assert _child(code).splitlines()[-1] == "1 True"


def test_frozen_imports_are_left_out_of_collections() -> None:
    code = (
        "import gc, json; from jing_singer.process import freeze_imports; "
        "before = gc.get_freeze_count(); freeze_imports(); "
        "print(before == 0 and gc.get_freeze_count() > 1000)"
    )
    assert _child(code) == "True"


def test_what_a_command_imported_is_frozen_as_it_ends() -> None:
    """Even a command that ends before its run (`sync --help`) leaves its objects frozen,
    so the interpreter's exit does not walk them at each of its collections."""
    code = (
        "import gc, sys; from target_jing.cli import main\n"
        "before = gc.get_freeze_count()\n"
        "try:\n    main(['sync', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(before == 0 and gc.get_freeze_count() > 1000)"
    )
    assert _child(code).splitlines()[-1] == "True"
