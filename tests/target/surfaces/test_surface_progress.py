"""The progress reporter: a redrawn bar on a terminal, a line every few seconds in a log."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from target_jing.engine import Progress
from target_jing.progress import ProgressReporter


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_log_gets_a_line_per_interval_and_per_phase() -> None:
    log, clock = io.StringIO(), Clock()
    report = ProgressReporter(log, interval_seconds=5, clock=clock)

    report(Progress("read", 50_000, None, 0))
    clock.now = 1
    report(Progress("read", 100_000, None, 0))  # within the interval: silent
    report(Progress("plan", 0, None, 0))  # a new phase: a line
    clock.now = 2
    report(Progress("send", 100, 1_000, 1))
    clock.now = 3
    report(Progress("send", 200, 1_000, 2))  # silent
    clock.now = 8
    report(Progress("send", 900, 1_000, 9))
    report(Progress("done", 1_000, 1_000, 10))
    report.close()

    assert log.getvalue().splitlines() == [
        "progress: read 50,000 rows, 0 calls",
        "progress: plan, 0 calls",
        "progress: send 100/1,000 rows (10%), 1 calls",
        "progress: send 900/1,000 rows (90%), 9 calls",
        "progress: done 1,000/1,000 rows (100%), 10 calls",
    ]


def test_terminal_gets_one_redrawn_bar_per_phase_with_rate_and_eta() -> None:
    tty, clock = Terminal(), Clock()
    report = ProgressReporter(tty, interval_seconds=5, clock=clock)

    report(Progress("send", 250, 1_000, 3))
    report(Progress("send", 1_000, 1_000, 10))
    report(Progress("done", 1_000, 1_000, 10))
    report.close()

    text = tty.getvalue()
    assert text.endswith("\n")
    assert text.count("\n") == 1, "one bar, redrawn in place"
    last = text.rstrip("\n").split("\r")[-1]
    assert last.startswith("send: 100%")
    assert "1.00k/1.00k" in last and "10 calls" in last
    assert "rows/s" in last, "the rate"
    assert "<" in last, "elapsed<remaining"


def test_log_lines_go_above_the_bar_not_into_it(monkeypatch: pytest.MonkeyPatch) -> None:
    tty = Terminal()
    monkeypatch.setattr(sys, "stderr", tty)
    handler = logging.StreamHandler(sys.stderr)  # a console handler, as sync mode sets up
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        report = ProgressReporter()
        report(Progress("send", 10, 100, 1))
        logging.getLogger("target-jing").warning("a line while the bar is drawn")
        report(Progress("send", 100, 100, 2))
        report.close()
    finally:
        root.removeHandler(handler)
    # What a terminal shows: a carriage return starts its line again.
    shown = [line.split("\r")[-1] for line in tty.getvalue().split("\n")]
    assert "a line while the bar is drawn" in shown
    assert not any("a line" in line and "rows" in line for line in shown)
