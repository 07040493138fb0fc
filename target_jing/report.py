"""The end of a run: a summary for people, then one JSON line for machines.

Where each goes depends on who reads stdout. In `target-jing sync` (and the
Meltano `sync` command) nobody else does, so the JSON line is the last line of
stdout, ready for `tail -1 | jq`. As a Singer target, stdout belongs to STATE
messages and Meltano stores every JSON line it reads there as state; so in
that mode both go to stderr and stdout carries only STATE.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, TextIO


class _Summary(Protocol):
    """The fields of `engine.RunSummary` that are reported."""

    run_id: str
    mode: str
    status: str
    counts: dict[str, int]
    rows_in: int
    update_calls: int
    minimum_calls: int
    seconds: float
    rows_per_second: float
    fatal_error: str | None
    retried: int
    reasons: list[dict[str, Any]]
    ledger_path: str

    def as_dict(self) -> dict[str, Any]: ...


def human_summary(summary: _Summary, exit_code: int) -> str:
    """A few lines that say what happened, why rows did not apply, and where to look."""
    # The ledger gives every outcome, in its own order (`ledger.OUTCOMES`).
    counts = ", ".join(f"{count:,} {name}" for name, count in summary.counts.items())
    retried = f" ({summary.retried:,} of them pending rows retried)" if summary.retried else ""
    lines = [
        f"target-jing run {summary.run_id} ({summary.mode}): {summary.status}, "
        f"exit code {exit_code}",
        f"  rows: {summary.rows_in:,} in{retried}; {counts}",
        f"  update calls: {summary.update_calls:,} (minimum {summary.minimum_calls:,})",
        f"  time: {summary.seconds:.1f} s, {summary.rows_per_second:,.0f} rows/s",
    ]
    if summary.fatal_error:
        lines.append(f"  stopped by: {summary.fatal_error}")
    if summary.reasons:
        lines.append("  why rows did not apply (most frequent first):")
        for group in summary.reasons:
            examples = ", ".join(f"{a}/{u}" for a, u in group["examples"])
            lines.append(f"    {group['rows']:,} {group['outcome']}: {group['reason']}")
            lines.append(f"      e.g. {examples}")
        lines.append(f"  every row: target-jing runs show {summary.run_id} --outcome failed")
    lines.append(f"  ledger: {summary.ledger_path}")
    return "\n".join(lines)


def summary_line(summary: _Summary, exit_code: int) -> str:
    """The summary as one JSON object on one line, with the exit code the process ends with."""
    return json.dumps({**summary.as_dict(), "exit_code": exit_code}, default=str)


def write_report(summary: _Summary, exit_code: int, *, human: TextIO, machine: TextIO) -> None:
    """Write the human summary, then the JSON line, flushing both so their order holds."""
    human.write(human_summary(summary, exit_code) + "\n")
    human.flush()
    machine.write(summary_line(summary, exit_code) + "\n")
    machine.flush()
