"""target-jing: write activity user statuses back to JING, sending only what changed.

Three ways in, one engine (`target_jing.engine.SyncRun`): the Singer target
(`target_jing.target.TargetJing`), `target-jing sync` on a DuckDB table, query
or file (`target_jing.cli`), and `sync_dataframe` for a pandas DataFrame.
`sync_dataframe` is imported when first used, so that the command line can say
which extra to install before anything needs pandas.
"""

from __future__ import annotations

from typing import Any

__all__ = ["sync_dataframe"]


def __getattr__(name: str) -> Any:
    if name == "sync_dataframe":
        from target_jing.dataframe import sync_dataframe

        return sync_dataframe
    raise AttributeError(f"module 'target_jing' has no attribute {name!r}")
