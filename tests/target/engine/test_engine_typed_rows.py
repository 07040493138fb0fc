"""The Arrow row checks (`typed_rows`) agree with the full checks (`rows`) wherever they answer.

Batches come from real DuckDB tables, as `SyncRun.add_relation` reads them.
"""

from __future__ import annotations

import random

import pytest
from row_cases import BAD, GOOD, TYPES, among_good, batch, full_checks, random_table, settings

from target_jing.typed_rows import check_typed


@pytest.mark.parametrize(("kinds", "rows"), list(GOOD.items()), ids=str)
@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Shanghai"])
def test_good_rows_of_each_type_are_staged_as_the_full_checks_stage_them(
    kinds: tuple[str, str], rows: list[str], zone: str
) -> None:
    config = settings(source_timezone=zone)
    typed = batch(TYPES.format(s=kinds[0], t=kinds[1]), rows)
    checked = check_typed(typed, config, "src", 5)
    assert checked is not None, "plainly good rows are checked in Arrow"
    assert checked.to_pylist() == full_checks(typed, config)


@pytest.mark.parametrize(("status", "time", "row"), BAD, ids=[b[2] for b in BAD])
def test_a_batch_with_any_value_the_full_checks_read_is_left_to_them(
    status: str, time: str, row: str
) -> None:
    """One such value among good rows: the whole batch goes to `rows`, which reads it."""
    config = settings(source_timezone="America/New_York")
    typed = batch(TYPES.format(s=status, t=time), among_good(row))
    assert check_typed(typed, config, "src", 5) is None
    assert len(full_checks(typed, config)) == 3


def test_random_tables_agree_with_the_full_checks_row_for_row() -> None:
    """Wherever the Arrow checks answer, they stage what the full checks stage."""
    generator = random.Random(20)
    answered = 0
    for _ in range(120):
        types, rows = random_table(generator)
        config = settings(source_timezone=generator.choice(["UTC", "America/New_York"]))
        typed = batch(types, rows)
        checked = check_typed(typed, config, "src", 5)
        if checked is not None:
            answered += 1
            assert checked.to_pylist() == full_checks(typed, config), rows
    assert answered >= 40, "most random tables of good rows are checked in Arrow"
