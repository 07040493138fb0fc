"""The uses that target-jing makes of pyarrow's private behaviour: not importing pandas;
where a command allows it, pyarrow imported as where numpy is not installed; and its
compute functions called without `pyarrow.compute`.

pyarrow imports pandas the first time it turns any Python value into Arrow (a
list, a number, a string argument of a compute function), to ask whether the
value is a pandas object. That import costs about 0.4 s of CPU, as much as the
rest of a small run. A `sync` whose rows are all good needs no pandas at all
(`typed_rows`), so before anything else it lets pyarrow find no pandas once:
pyarrow then stops asking.

Once a run needs pandas after all (a batch that `rows` must read), pyarrow must
be told at once: left to find it by itself, it does so in the middle of its
first `Table.from_pandas`, which then types every column of an empty frame as
null. `pandas_for_arrow` does that, and every pandas frame is staged after it
(`SyncRun._checked`). `tests/test_pyarrow_private.py` fails when pyarrow changes
either behaviour; `tests/target/surfaces/test_surface_cli.py` checks both sides in
a real run (good rows import no pandas; a bad row is rejected by name).

pyarrow needs numpy only to convert to and from numpy arrays and pandas frames;
without numpy installed it works, and says so when asked for such a conversion
(pyarrow 16 made numpy optional). Recording answers converts none, and numpy's
import (46 ms, while the first calls are out) is most of pyarrow's. So
`target-jing sync`, which uses pandas only to check a batch of bad rows while
staging, lets the engine import pyarrow for recording as if numpy were not
installed (`without_numpy`), when nothing has imported numpy by then. A program
that uses the engine as a library never says so, and keeps pyarrow's numpy.

`pyarrow.compute` makes a Python wrapper, with its documentation, for each of the
286 compute functions as it is imported (34 ms, while the first calls are out).
Recording answers calls a dozen of them, by name, through the function that every
wrapper calls (`call`, pyarrow's `_compute.call_function`), and never imports it;
the Array methods that would (`take`, `filter`, `cast`) are called the same way.
`tests/test_pyarrow_private.py` checks that recording answers imports no
`pyarrow.compute`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

__all__ = [
    "arrow_without_numpy_allowed",
    "arrow_without_pandas",
    "call",
    "cast_to",
    "load_compute",
    "looking_up",
    "matching",
    "pandas_for_arrow",
    "without_numpy",
]


class _NoPandasYet:
    """A module finder that makes `import pandas` fail, for as long as it is installed."""

    @staticmethod
    def find_spec(
        name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name == "pandas":
            raise ModuleNotFoundError("pandas is not needed yet", name=name)
        return None


class _NoNumpy:
    """A module finder that makes `import numpy` (and its modules) fail while installed."""

    @staticmethod
    def find_spec(
        name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name == "numpy" or name.startswith("numpy."):
            raise ModuleNotFoundError("numpy is not needed by this command", name=name)
        return None


#: Set by a command that needs no numpy once its rows are staged (`target-jing sync`).
_numpy_unneeded = False


@contextmanager
def arrow_without_numpy_allowed() -> Iterator[None]:
    """For the block, a run needs no numpy once its rows are staged (a command's say only)."""
    global _numpy_unneeded
    _numpy_unneeded = True
    try:
        yield
    finally:
        _numpy_unneeded = False


@contextmanager
def without_numpy() -> Iterator[None]:
    """In the block, pyarrow (not imported yet) imports as where numpy is not installed,
    if the command allowed it and nothing has imported numpy (see above)."""
    if not _numpy_unneeded or "numpy" in sys.modules or "pyarrow" in sys.modules:
        yield
        return
    sys.meta_path.insert(0, _NoNumpy)  # type: ignore[arg-type]
    try:
        yield
    finally:
        sys.meta_path.remove(_NoNumpy)  # type: ignore[arg-type]


def arrow_without_pandas() -> None:
    """Let pyarrow look for pandas once, and find none, unless pandas is already imported.

    Why: pyarrow's lazy pandas importer (`pyarrow.lib._pandas_api`) has no setting;
    it looks once, and keeps the answer until it needs pandas for itself. pyarrow is
    imported here, not before: a `sync` with nothing to send never needs it. Each
    place that first turns Python values into Arrow calls this first; after the
    first call it costs nothing.
    """
    if "pandas" not in sys.modules:
        _look_once()


@cache
def _look_once() -> None:
    import pyarrow as pa

    sys.meta_path.insert(0, _NoPandasYet)  # type: ignore[arg-type]
    try:
        pa.array([0])  # the first conversion: pyarrow looks for pandas here
    finally:
        sys.meta_path.remove(_NoPandasYet)  # type: ignore[arg-type]


def pandas_for_arrow() -> None:
    """Import pandas, and have pyarrow look for it again now (see above).

    Why: `_pandas_api.pd` is the lazy importer's own way in; it imports pandas,
    and sets what pyarrow's pandas conversions read, when the last look found none.
    """
    import pyarrow as pa

    pa.lib._pandas_api.pd  # noqa: B018 (read for its effect)


def load_compute() -> None:
    """Import the module whose functions `call` calls, now: in `without_numpy`'s block (it
    imports numpy when it can), not at the first call."""
    import pyarrow._compute  # noqa: F401 (imported for its effect, now)


def call(name: str, *args: Any, options: Any = None) -> Any:
    """pyarrow's compute function `name` on `args` (arrays, or Python values as scalars)."""
    from pyarrow._compute import call_function

    return call_function(name, list(args), options)


def looking_up(values: Any) -> Any:
    """The options of `is_in` and `index_in`: the set `values` to look up in."""
    from pyarrow._compute import SetLookupOptions

    return SetLookupOptions(values)


def matching(pattern: str) -> Any:
    """The options of `match_substring_regex`: the regular expression `pattern` (RE2)."""
    from pyarrow._compute import MatchSubstringOptions

    return MatchSubstringOptions(pattern)


def cast_to(kind: Any) -> Any:
    """The options of `cast`: to Arrow type `kind`, refusing a lossy cast."""
    from pyarrow._compute import CastOptions

    return CastOptions.safe(kind)
