"""`ApiTimes` gives exactly what `api_time_to_utc_iso` gives, hour remembered or not."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jing_client.times import ApiTimes, api_time_to_utc_iso

#: Whole-hour offsets (with and without daylight time, Shanghai's daylight time of
#: 1986-1991 included), half- and quarter-hour offsets, a 30-minute daylight shift,
#: and local mean times with offsets in seconds.
ZONES = [
    "Asia/Shanghai",
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "UTC",
]
API_TIMES = st.datetimes(min_value=datetime(1890, 1, 1), max_value=datetime(2100, 12, 31)).map(
    lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S")
)


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES), texts=st.lists(API_TIMES, min_size=1, max_size=20))
def test_remembered_hours_convert_like_the_plain_conversion(zone: str, texts: list[str]) -> None:
    times = ApiTimes(ZoneInfo(zone))
    # Each text, and its neighbours in the same hour, twice: the second time from memory.
    for text in texts:
        moment = datetime.fromisoformat(text)
        hour = [
            (moment.replace(minute=0, second=0) + timedelta(seconds=s)).strftime(
                "%Y-%m-%d %H:%M:%S"
            )
            for s in (0, 1799, 3599)
        ]
        for each in [text, *hour, text, *hour]:
            assert times.to_utc_iso(each) == api_time_to_utc_iso(each, ZoneInfo(zone)), each


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Daylight time starts at 02:00 (no such local time) and ends at 02:00 (01:xx twice).
        ("2025-03-09 02:30:00", "2025-03-09T07:30:00+00:00"),
        ("2025-03-09 03:30:00", "2025-03-09T07:30:00+00:00"),
        ("2025-11-02 01:30:00", "2025-11-02T05:30:00+00:00"),
        ("2025-11-02 02:30:00", "2025-11-02T07:30:00+00:00"),
    ],
)
def test_daylight_time_changes_convert_the_same_from_memory(text: str, expected: str) -> None:
    times = ApiTimes(ZoneInfo("America/New_York"))
    assert times.to_utc_iso(text) == expected
    assert times.to_utc_iso(text) == expected


@pytest.mark.parametrize("hour", ["1987-04-05 01", "1987-10-25 00", "1988-04-03 02"])
def test_an_hour_with_a_change_of_offset_inside_it_is_not_copied(hour: str) -> None:
    """Goose Bay changed its clocks at one minute past the hour in the 1980s."""
    zone = ZoneInfo("America/Goose_Bay")
    times = ApiTimes(zone)
    for minute in range(60):
        text = f"{hour}:{minute:02d}:30"
        assert times.to_utc_iso(text) == api_time_to_utc_iso(text, zone), text


@pytest.mark.parametrize(
    "bad",
    [
        "2025-06-17 17:16:60",
        "2025-06-17 17:60:44",
        "2025-06-17 17:1x:44",
        "2025-06-17 17:16:4",
        "2025-06-17 17:16:44:",
        "2025-06-17 17:16 44",
        "2025-06-17 17:16:\uff14\uff14",  # full-width digits
    ],
)
def test_a_bad_minute_or_second_in_a_remembered_hour_still_raises(bad: str) -> None:
    times = ApiTimes(ZoneInfo("Asia/Shanghai"))
    assert times.to_utc_iso("2025-06-17 17:00:00") == "2025-06-17T09:00:00+00:00"
    with pytest.raises(ValueError):
        api_time_to_utc_iso(bad, ZoneInfo("Asia/Shanghai"))
    with pytest.raises(ValueError):
        times.to_utc_iso(bad)


def test_times_with_their_own_offset_keep_it_in_a_remembered_hour() -> None:
    times = ApiTimes(ZoneInfo("Asia/Shanghai"))
    times.to_utc_iso("2025-06-17 17:00:00")
    assert times.to_utc_iso("2025-06-17 17:16+02") == "2025-06-17T15:16:00+00:00"
    assert times.to_utc_iso("2025-06-17T17:16:44") == "2025-06-17T09:16:44+00:00"
