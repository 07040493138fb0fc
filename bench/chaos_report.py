"""One row of the reliability table per scenario, the rules it must keep, and the Markdown.

The columns are the ones issue 6 fixes. A column that has no meaning for a
scenario (an extract has no update calls) holds None and prints as a dash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

COLUMNS: tuple[str, ...] = (
    "scenario",
    "rows in",
    "applied",
    "unchanged",
    "failed (expected)",
    "rejected (expected)",
    "lost",
    "wrong final state",
    "false outcomes",
    "update calls",
    "minimum calls",
    "seconds",
)


@dataclass
class Result:
    """What one scenario did; `problems` lists every rule it broke (empty: it passed)."""

    scenario: str
    rows_in: int
    applied: int | None = None
    unchanged: int | None = None
    failed: int | None = None
    rejected: int | None = None
    lost: int = 0
    wrong: int = 0
    #: Rows logged applied or unchanged that JING did not hold right after their run.
    false_outcomes: int | None = None
    update_calls: int | None = None
    minimum_calls: int | None = None
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems and self.lost == 0 and self.wrong == 0 and not self.false_outcomes

    def broken_rules(self) -> list[str]:
        """The problems, plus the two rules every scenario keeps."""
        rules = list(self.problems)
        if self.lost:
            rules.append(f"{self.lost} rows lost")
        if self.wrong:
            rules.append(f"{self.wrong} registrations in a wrong final state")
        if self.false_outcomes and not any("false outcomes" in r for r in rules):
            rules.append(f"{self.false_outcomes} false outcomes")
        return rules

    def cells(self) -> list[str]:
        values = (
            self.rows_in,
            self.applied,
            self.unchanged,
            self.failed,
            self.rejected,
            self.lost,
            self.wrong,
            self.false_outcomes,
            self.update_calls,
            self.minimum_calls,
        )
        return [self.scenario, *(_cell(v) for v in values), f"{self.seconds:.1f}"]


def _cell(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def table(results: Sequence[Result]) -> str:
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" if c == "scenario" else "---:" for c in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in results]
    return "\n".join(lines)


def markdown(
    results: Sequence[Result], *, header: str, settings: str, leak_summary: str, command: str
) -> str:
    """The whole docs/RELIABILITY.md: what was run, the table, the broken rules, the notes."""
    broken = [(r.scenario, rule) for r in results for rule in r.broken_rules()]
    verdict = (
        "Every scenario kept every rule: 0 lost rows, 0 wrong final states, 0 false outcomes, "
        "every exit code the documented one, no unexpected failure."
        if not broken
        else f"{len(broken)} broken rules (below): the run failed."
    )
    parts = [
        "# Reliability: the fault matrix",
        "",
        header,
        "",
        f"Written by `{command}`. {verdict}",
        "",
        table(results),
        "",
        "## Rules",
        "",
        "- **lost**: input rows with no outcome in `jing_sync_log` over all the runs of the "
        "scenario, plus rows a run staged but did not log. Must be 0.",
        "- **wrong final state**: sandbox registrations (`GET /_sandbox/registrations`) whose "
        "status differs, after the last run, from the latest wish (untouched registrations, and "
        "those whose newer rows were all rejected, must keep their values). Must be 0.",
        "- **false outcomes**: rows logged `applied` or `unchanged` whose values JING did not "
        "hold right after that run (for scenarios 1 to 11: of their last run; for the sequences "
        "S1 to S9: of every run). Must be 0.",
        "- **exit codes**: every run of a sequence must exit with the code the README documents "
        "for what it met (a broken one is listed under Broken rules).",
        "- **failed (expected)** / **rejected (expected)**: every such row must be one the "
        "scenario makes fail (an unregistered user, a run killed before its row was confirmed); "
        "any other failure breaks the rule. Nothing may stay in `jing_pending` at the end.",
        "- Write-back counts add up over the runs of a scenario; `rows in` counts each row each "
        "run read (rows a killed run left pending and a later run took up count again).",
        "- **update calls**: batch-update requests the API (the sandbox) received, retries of "
        "passing faults and the calls of killed runs included; **minimum calls**: the fewest "
        "the rows need (per activity and set of values, 100 users a call), computed from the "
        "rows, not by the engine. The notes give the calls the ledger recorded (scenario 10 "
        "reports those: the sandbox's counters restart with it).",
        "- Extract rows: `rows in` is the clean run's records; `lost` counts clean records "
        "missing from the faulty run (a multiset of primary keys and values); `wrong final "
        "state` counts records the faulty run emitted that the clean run did not.",
        "",
        "## Settings",
        "",
        settings,
        "",
        "## Leak hunt",
        "",
        leak_summary,
        "",
    ]
    if broken:
        parts += ["## Broken rules", ""]
        parts += [f"- {scenario}: {rule}" for scenario, rule in broken]
        parts.append("")
    notes = [(r.scenario, note) for r in results for note in r.notes]
    if notes:
        parts += ["## Notes", ""]
        parts += [f"- {scenario}: {note}" for scenario, note in notes]
        parts.append("")
    return "\n".join(parts)
