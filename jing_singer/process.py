"""Process-wide tuning that a connector's command makes around its heavy imports.

Both connectors import numpy without using it for any arithmetic (pyarrow and the
Singer SDK's joblib pull it in), and both import far more objects than a run ever
frees. Two things follow, each measured on a 100,000-row `target-jing sync`:

- numpy's OpenBLAS starts a thread per core at import, and each spins for about a
  tenth of a second waiting for matrix work that never comes (0.08 s of CPU a run);
- the garbage collector walks every imported object again at each full collection
  (0.08 s of CPU a run; 0.035 s once they are frozen).

Only the commands call these: a program that imports the packages as a library
keeps its own settings.
"""

from __future__ import annotations

import gc
import os


def one_blas_thread() -> None:
    """Ask numpy's OpenBLAS for one thread; call before anything imports numpy.

    A value the user set (`OPENBLAS_NUM_THREADS`) is kept.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def freeze_imports() -> None:
    """Leave the objects that exist now (the imports') out of every later collection."""
    gc.freeze()
