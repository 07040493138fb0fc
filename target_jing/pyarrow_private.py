"""The one use that target-jing makes of pyarrow's private behaviour: not importing pandas.

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
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import cache
from importlib.machinery import ModuleSpec
from types import ModuleType

__all__ = ["arrow_without_pandas", "pandas_for_arrow"]


class _NoPandasYet:
    """A module finder that makes `import pandas` fail, for as long as it is installed."""

    @staticmethod
    def find_spec(
        name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name == "pandas":
            raise ModuleNotFoundError("pandas is not needed yet", name=name)
        return None


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
