"""target-jing: write activity user statuses back to JING, sending only what changed.

Three ways in, one engine (`target_jing.engine.SyncRun`): the Singer target
(`target_jing.target.TargetJing`), `target-jing sync` on a DuckDB table, query
or file (`target_jing.cli`), and `sync_dataframe` for a pandas DataFrame.
"""

from target_jing.dataframe import sync_dataframe

__all__ = ["sync_dataframe"]
