"""Show a run's progress: a bar on a terminal, a line every few seconds in a log.

A person at a terminal wants to see the run move; a scheduler's log wants a
few readable lines, not thousands of carriage returns. So the reporter asks
its stream whether it is a TTY and draws one or the other. It is the
`on_progress` callback of `SyncRun`, and needs no dependency.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Protocol, TextIO

BAR_WIDTH = 30
#: A terminal redraw at most this often; the engine may call back per chunk.
REDRAW_SECONDS = 0.1


class _Progress(Protocol):
    """The fields of `engine.Progress` that are shown."""

    phase: str
    rows_done: int
    rows_total: int | None
    calls: int


class ProgressReporter:
    """Callable for `SyncRun(on_progress=...)`; call `close()` when the run ends."""

    def __init__(
        self,
        stream: TextIO | None = None,
        interval_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._interval = REDRAW_SECONDS if self._tty else interval_seconds
        self._clock = clock
        self._last_at: float | None = None
        self._last_phase = ""
        self._drawn = False

    def __call__(self, progress: _Progress) -> None:
        now = self._clock()
        phase_changed = progress.phase != self._last_phase
        due = self._last_at is None or now - self._last_at >= self._interval
        if not (phase_changed or due or progress.phase == "done"):
            return
        self._last_at, self._last_phase = now, progress.phase
        if self._tty:
            self._stream.write("\r" + _bar(progress) + "\x1b[K")
            self._drawn = True
        else:
            self._stream.write("progress: " + describe(progress) + "\n")
        self._stream.flush()

    def close(self) -> None:
        """End the bar's line, so that what follows starts on a fresh one."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False


def describe(progress: _Progress) -> str:
    """One line of text: phase, rows (with a percentage when the total is known), calls."""
    if not (progress.rows_done or progress.rows_total):
        return f"{progress.phase}, {progress.calls:,} calls"
    rows = f"{progress.rows_done:,}"
    if progress.rows_total:
        share = 100.0 * progress.rows_done / progress.rows_total
        rows += f"/{progress.rows_total:,} rows ({share:.0f}%)"
    else:
        rows += " rows"
    return f"{progress.phase} {rows}, {progress.calls:,} calls"


def _bar(progress: _Progress) -> str:
    done = progress.rows_done / progress.rows_total if progress.rows_total else 0.0
    filled = round(BAR_WIDTH * min(done, 1.0))
    return f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {describe(progress)}"
