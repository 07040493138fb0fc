"""Write back the statuses in a pandas DataFrame, from a notebook or a Python job.

The same engine, settings and ledger as the Singer target and `sync`; the
caller gets the run's summary (`engine.Summary`, a TypedDict: what `sync` prints
as its JSON line, `exit_code` included) and decides what to do with a failed
run, so nothing is printed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from target_jing.engine import Summary, SyncRun, run_mode
from target_jing.settings import TargetSettings


def sync_dataframe(
    df: pd.DataFrame,
    config: Mapping[str, Any],
    *,
    dry_run: bool = False,
    full: bool = False,
) -> Summary:
    """Write `df`'s rows back to JING and return the run summary.

    `config` is the flat config of the Singer target; a bad setting raises
    `JingConfigError` naming it, and a fatal authentication or permission error
    ends up in the summary's `fatal_error` after what was done is recorded.
    """
    mode = run_mode(dry_run=dry_run, full=full)
    settings = TargetSettings.from_config(config)
    with SyncRun(settings, mode=mode) as run:
        run.add_dataframe(df, source="dataframe")
        return run.finish().as_dict()
