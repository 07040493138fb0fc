"""Row checks, time conversion and settings: no sandbox needed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from jing_client import JingConfigError
from target_jing.rows import check_batch
from target_jing.settings import TargetSettings
from target_jing.times import to_api_times

BASE = {"app_id": "100000000000000000000000001", "app_secret": "s3cr3t-value-xyz"}


def settings(**config: Any) -> TargetSettings:
    return TargetSettings.from_config({**BASE, "base_url": "http://127.0.0.1:9", **config})


def check(rows: list[dict[str, Any]], **config: Any) -> pd.DataFrame:
    return check_batch(pd.DataFrame(rows), settings(**config), "test", 0)


def one(row: dict[str, Any], **config: Any) -> dict[str, Any]:
    return check([{"activity_id": "a1", "user_id": "u1", **row}], **config).iloc[0].to_dict()


def reason(row: dict[str, Any], **config: Any) -> str | None:
    value = one(row, **config)["reason"]
    return None if pd.isna(value) else value


@pytest.mark.parametrize(
    ("value", "sent"),
    [(1, "1"), (1.0, "1"), ("1", "1"), (" 2 ", "2"), (0, "0"), ("1.0", "1"), ("2.00", "2")],
)
def test_status_values_that_mean_an_allowed_string(value: Any, sent: str) -> None:
    row = one({"approve_status": value})
    assert row["ems_approvestatus"] == sent
    assert pd.isna(row["reason"])


@pytest.mark.parametrize("value", [True, False, "yes", 3, 1.5, "1.5", "3.0", ".0", "approved"])
def test_status_values_outside_the_set_are_rejected_naming_row_and_column(value: Any) -> None:
    text = reason({"approve_status": value})
    assert text is not None
    assert text.startswith("row 0 of test:")
    assert "column 'approve_status'" in text and repr(value) in text


def test_signin_status_two_is_rejected_by_default_and_allowed_by_setting() -> None:
    assert "allowed statuses (0, 1)" in reason({"signin_status": 2})
    assert reason({"signin_status": 2}, signin_statuses=["0", "1", "2"]) is None


def test_missing_ids_and_nothing_to_set_are_rejected() -> None:
    checked = check(
        [
            {"activity_id": None, "user_id": "u1", "approve_status": 1},
            {"activity_id": "a1", "user_id": "  ", "approve_status": 1},
            {"activity_id": "a1", "user_id": "u1", "approve_status": None},
        ]
    )
    reasons = checked["reason"].tolist()
    assert reasons[0].startswith("row 0 of test: missing activity id")
    assert reasons[1].startswith("row 1 of test: missing user id")
    assert reasons[2] == "row 2 of test: nothing to set: every status and time is empty"


def test_an_unusable_id_is_named_as_such_not_as_missing() -> None:
    checked = check(
        [
            {"activity_id": ["a1"], "user_id": "u1", "approve_status": 1},
            {"activity_id": "a1", "user_id": True, "approve_status": 1},
            {"activity_id": "a1", "user_id": "x" * 500 + "\ud800", "approve_status": 1},
        ]
    )
    reasons = checked["reason"].tolist()
    assert reasons[0].startswith("row 0 of test: activity id (column ")
    assert "is not a usable id: ['a1']" in reasons[0]
    assert "user id (column 'user_id' or 'omni_user_uuid') is not a usable id: True" in reasons[1]
    assert "is not a usable id: 'xxx" in reasons[2] and len(reasons[2]) < 200
    assert not any("missing" in r for r in reasons)
    assert checked["omni_user_uuid"].isna().tolist() == [False, True, True]


def test_input_without_an_id_column_names_the_columns_it_looked_for() -> None:
    checked = check_batch(pd.DataFrame([{"approve_status": 1}]), settings(), "x", 7)
    assert (
        "row 7 of x: missing activity id (column 'activity_id' or 'entity_uuid')"
        in (checked["reason"].iloc[0])
    )


def test_other_columns_are_dropped_and_api_names_are_accepted() -> None:
    checked = check(
        [{"entity_uuid": "a", "omni_user_uuid": 7, "ems_approvestatus": "1", "secret": "x"}]
    )
    assert list(checked.columns) == [
        "row_index",
        "source",
        "entity_uuid",
        "omni_user_uuid",
        "ems_signinstatus",
        "ems_approvestatus",
        "ems_signintimestamp",
        "ems_approvetimestamp",
        "reason",
    ]
    assert checked.iloc[0]["omni_user_uuid"] == "7"


def test_column_mapping_takes_the_named_column_only() -> None:
    mapping = {"entity_uuid": "event", "ems_approvestatus": "decision"}
    row = one({"event": "e9", "decision": 2, "approve_status": 1}, column_mapping=mapping)
    assert row["entity_uuid"] == "e9" and row["ems_approvestatus"] == "2"


def test_row_index_continues_from_first_index() -> None:
    frame = pd.DataFrame([{"activity_id": "a", "user_id": "u", "approve_status": "x"}] * 2)
    checked = check_batch(frame, settings(), "s", 100)
    assert checked["row_index"].tolist() == [100, 101]
    assert checked["reason"].iloc[1].startswith("row 101 of s:")


# -- times --------------------------------------------------------------------------------

SHANGHAI_MIDNIGHT_UTC = "2024-01-01 08:00:00"  # 2024-01-01 00:00:00 UTC in Asia/Shanghai


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-01 00:00:00",  # naive text: source_timezone (UTC)
        "2024-01-01T00:00:00",
        datetime(2024, 1, 1),  # naive datetime
        "2024-01-01T00:00:00Z",
        "2024-01-01T08:00:00+08:00",
        "2023-12-31T19:00:00-05:00",
        datetime(2024, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=9))),
        pd.Timestamp("2024-01-01 00:00:00", tz="UTC"),
        pd.Timestamp("2024-01-01 00:00:00"),
        1704067200,  # epoch seconds
        1704067200000,  # epoch milliseconds
        1704067200.0,
        "1704067200",  # epoch text, as a CSV file gives it
        " 1704067200000 ",
        "1704067200.0",
        date(2024, 1, 1),
    ],
)
def test_times_are_converted_to_the_api_zone(value: Any) -> None:
    texts, errors = to_api_times(pd.Series([value], dtype=object), "UTC", "Asia/Shanghai")
    assert texts.iloc[0] == SHANGHAI_MIDNIGHT_UTC
    assert pd.isna(errors.iloc[0])


def test_naive_times_are_read_in_source_timezone() -> None:
    naive = pd.Series(pd.to_datetime(["2024-07-01 12:00:00"]))
    texts, _ = to_api_times(naive, "America/New_York", "Asia/Shanghai")
    assert texts.iloc[0] == "2024-07-02 00:00:00"  # EDT is UTC-4, Shanghai UTC+8


def test_whole_columns_of_each_type_convert_the_same() -> None:
    instant = datetime(2024, 1, 1, tzinfo=UTC)
    columns = {
        "naive datetime64": pd.Series(pd.to_datetime(["2024-01-01 00:00:00", None])),
        "aware datetime64": pd.Series(pd.to_datetime([instant, None], utc=True)),
        "epoch int": pd.Series([1704067200, None], dtype="Int64"),
        "epoch float with null": pd.Series([1704067200000.0, float("nan")]),
        "text": pd.Series(["2024-01-01 00:00:00", None], dtype="str"),
    }
    for name, column in columns.items():
        texts, errors = to_api_times(column, "UTC", "Asia/Shanghai")
        assert texts.tolist() == [SHANGHAI_MIDNIGHT_UTC, None], name
        assert errors.isna().all(), name


@pytest.mark.parametrize("dtype", [object, "str"])
def test_a_text_column_reads_each_shape_as_its_value_alone_would(dtype: Any) -> None:
    """Text in the usual naive shape is read a column at once; the rest value by value, and
    each row's time or reason is what that value alone would give."""
    values = [
        "2024-01-01 08:00:00",
        " 2024-01-01T08:00 ",
        "2024-01-01 08:00:00.250",
        "2024-01-01",
        "2024-01-01T00:00:00Z",
        "1704067200",
        "2024-02-30 10:00:00",
        "0135-01-01 00:00:00",
        "9999-12-31 23:00:00",
        "2024/01/01 08:00:00",
        "",
        None,
    ]
    column = pd.Series(values, dtype=dtype)
    texts, errors = to_api_times(column, "UTC", "Asia/Shanghai")
    alone = [to_api_times(pd.Series([v], dtype=dtype), "UTC", "Asia/Shanghai") for v in values]
    assert texts.tolist() == [t.iloc[0] for t, _ in alone]
    assert errors.tolist() == [e.iloc[0] for _, e in alone]
    eight = "2024-01-01 16:00:00"
    assert texts.tolist()[:6] == [eight, eight, eight, *[SHANGHAI_MIDNIGHT_UTC] * 3]
    assert texts.tolist()[7] == "0135-01-01 08:05:43", "before pandas' nanosecond range"
    assert "does not parse" in errors.tolist()[6] and "past the year 9999" in errors.tolist()[8]


def test_eight_digit_text_is_an_iso_date_not_an_epoch() -> None:
    texts, _ = to_api_times(pd.Series(["20240101"], dtype="str"), "UTC", "Asia/Shanghai")
    assert texts.iloc[0] == SHANGHAI_MIDNIGHT_UTC


@pytest.mark.parametrize(
    "value", ["not a time", "2024-13-01", True, float("inf"), "1e9", "0x10", "1,704,067,200"]
)
def test_times_that_do_not_parse_are_rejected(value: Any) -> None:
    text = reason({"approve_status": 1, "approve_time": value})
    assert text is not None and "column 'approve_time'" in text


def test_a_wall_time_skipped_by_dst_is_rejected_not_guessed() -> None:
    text = reason({"signin_time": "2024-03-10 02:30:00"}, source_timezone="America/New_York")
    assert text is not None and "does not exist in source_timezone America/New_York" in text


def test_time_only_row_is_not_nothing_to_set() -> None:
    row = one({"signin_time": "2024-01-01 00:00:00"})
    assert row["ems_signintimestamp"] == SHANGHAI_MIDNIGHT_UTC and pd.isna(row["reason"])


# -- settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"batch_size": 101}, "batch_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"source_timezone": "Mars/Olympus"}, "source_timezone"),
        ({"api_timezone": "Nowhere"}, "api_timezone"),
        ({"column_mapping": {"status": "x"}}, "column_mapping"),
        ({"signin_statuses": "01"}, "signin_statuses"),
        ({"max_failed_ratio": 2}, "max_failed_ratio"),
        ({"streams": "a,b"}, "streams"),
        ({"app_secret": ""}, "app_secret"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(config: dict[str, Any], named: str) -> None:
    with pytest.raises(JingConfigError, match=named) as caught:
        settings(**config)
    assert BASE["app_secret"] not in str(caught.value)


def test_ledger_sits_beside_the_warehouse_unless_set(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    beside = TargetSettings.from_config(
        {**BASE, "base_url": "http://127.0.0.1:9"}, warehouse_path=warehouse
    )
    assert beside.ledger_path == tmp_path / "wh" / "jing_ledger.duckdb"
    assert settings().ledger_path == Path("output") / "jing_ledger.duckdb"
    assert settings(ledger_path="x/l.duckdb").ledger_path == Path("x/l.duckdb")
