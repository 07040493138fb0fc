"""Show a run's progress: a bar on a terminal, a line every few seconds in a log.

A person at a terminal wants to see the run move, at what rate and for how much
longer; a scheduler's log wants a few readable lines, not thousands of carriage
returns. So the reporter asks its stream whether it is a TTY and draws one or
the other. It is the `on_progress` callback of `SyncRun`.

The bar is tqdm's, with its logging integration: while a bar is drawn, log
lines are written above it, never into it. tqdm is imported only when a bar is
drawn, so a run in a scheduler does not pay for it.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

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
        self._interval = interval_seconds
        self._clock = clock
        self._last_at: float | None = None
        self._last_phase = ""
        self._bar: tqdm | None = None
        self._logs_above_bar = contextlib.ExitStack()

    def __call__(self, progress: _Progress) -> None:
        if self._tty:
            self._draw(progress)
            return
        now = self._clock()
        phase_changed = progress.phase != self._last_phase
        due = self._last_at is None or now - self._last_at >= self._interval
        if not (phase_changed or due or progress.phase == "done"):
            return
        self._last_at, self._last_phase = now, progress.phase
        self._stream.write("progress: " + describe(progress) + "\n")
        self._stream.flush()

    def close(self) -> None:
        """End the bar, so that what follows starts on a fresh line; logs go back as before."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._logs_above_bar.close()

    def _draw(self, progress: _Progress) -> None:
        """One bar per phase (read, plan, send): rows, calls, the rate and, with a total, ETA."""
        if progress.phase == "done":
            self._update(progress)
            self.close()
            return
        if self._bar is None or progress.phase != self._last_phase:
            self.close()
            self._bar = self._new_bar(progress)
            self._last_phase = progress.phase
        self._update(progress)

    def _new_bar(self, progress: _Progress) -> tqdm:
        from tqdm import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm

        self._logs_above_bar.enter_context(logging_redirect_tqdm())
        return tqdm(
            desc=progress.phase,
            total=progress.rows_total,
            unit=" rows",
            unit_scale=True,
            file=self._stream,
            mininterval=REDRAW_SECONDS,
            dynamic_ncols=True,
        )

    def _update(self, progress: _Progress) -> None:
        if self._bar is None:
            return
        if progress.rows_total is not None and self._bar.total != progress.rows_total:
            self._bar.total = progress.rows_total
        self._bar.set_postfix_str(f"{progress.calls:,} calls", refresh=False)
        self._bar.update(progress.rows_done - self._bar.n)


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
