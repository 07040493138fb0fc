"""Process-wide tuning that a connector's command makes around its heavy imports.

Both connectors import numpy without using it for any arithmetic (pyarrow and the
Singer SDK's joblib pull it in), and both import far more objects than a run ever
frees; target-jing also imports pyarrow. Three things follow, each measured on a
100,000-row `target-jing sync`:

- numpy's OpenBLAS starts a thread per core at import, and each spins for about a
  tenth of a second waiting for matrix work that never comes (0.08 s of CPU a run);
- the garbage collector walks every imported object again at each full collection
  (0.08 s of CPU a run; 0.035 s once they are frozen);
- pyarrow's default allocator, mimalloc, takes fresh transparent huge pages for the
  answers' Arrow tables, and the kernel clears 2 MB at each first touch (peak RSS
  about 10 % higher than with malloc).

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


def system_arrow_allocator() -> None:
    """Have pyarrow allocate with the C library's malloc; call before pyarrow is imported.

    Measured on 100,000 rows at 0 ms, 10 interleaved runs: peak RSS 246-259 MB with
    mimalloc, 221-230 MB with the system pool; the main thread's CPU in the answers'
    Arrow tables 0.24 against 0.17-0.18 s. At 1,000,000 rows: 332-340 against 310 MB.
    A value the user set (`ARROW_DEFAULT_MEMORY_POOL`) is kept.
    """
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")


def freeze_imports() -> None:
    """Leave the objects that exist now (the imports') out of every later collection.

    Called again as a command ends: the interpreter's exit collects garbage too, and
    would walk what was imported late (target-jing's pyarrow) at each collection.
    """
    gc.freeze()
