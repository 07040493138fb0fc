"""Time conversion, the bookmark tail and record conversion, without a server."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib.encoding.simple import RecordMessage, SchemaMessage, StateMessage

from jing_client.times import api_time_to_utc_iso, to_api_time
from tap_jing.bookmarks import LISTED_DIGESTS, Tail, TailTracker, record_digest
from tap_jing.output import MessageWriter
from tap_jing.partitions import IndexedStateManager
from tap_jing.tap import TapJing

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
CONFIG = {
    "app_id": "100000000000000000000000001",
    "app_secret": "5a4d0b0e5e1f4c7c9d3b2a1f0e9d8c7b",
    "base_url": "http://127.0.0.1:9",
}


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("2025-06-17 17:16:44", SHANGHAI, "2025-06-17T09:16:44+00:00"),
        ("2025-01-01 03:00:00", SHANGHAI, "2024-12-31T19:00:00+00:00"),
        ("2025-07-01 12:00:00", NEW_YORK, "2025-07-01T16:00:00+00:00"),  # daylight time
        ("2025-12-01 12:00:00", NEW_YORK, "2025-12-01T17:00:00+00:00"),  # standard time
        ("2025-06-17T17:16:44+02:00", SHANGHAI, "2025-06-17T15:16:44+00:00"),  # own offset
    ],
)
def test_api_times_become_utc_instants(text: str, zone: ZoneInfo, expected: str) -> None:
    assert api_time_to_utc_iso(text, zone) == expected
    assert datetime.fromisoformat(expected).tzinfo is not None


def test_a_text_that_is_not_a_time_raises() -> None:
    with pytest.raises(ValueError):
        api_time_to_utc_iso("17/06/2025", SHANGHAI)


def test_filters_are_sent_in_the_api_zone_to_the_second() -> None:
    moment = datetime(2025, 6, 17, 9, 16, 44, 900000, tzinfo=UTC)
    assert to_api_time(moment, SHANGHAI) == "2025-06-17 17:16:44"


def test_tail_holds_only_the_same_record_at_the_same_time() -> None:
    record = {"jing_uuid": "a", "ems_signinstatus": "0", "updated_time": "T1"}
    tail = Tail("T1", {record_digest(record)})
    assert tail.holds("T1", dict(record))
    assert not tail.holds("T1", {**record, "ems_signinstatus": "1"}), "changed in the same second"
    assert not tail.holds("T2", record)


def test_tail_after_a_run_is_replaced_by_newer_times_and_merged_at_the_same() -> None:
    old = Tail("T1", {"a"})
    assert old.after(Tail()) == old, "a run that emitted nothing keeps the tail"
    assert old.after(Tail("T1", {"b"})) == Tail("T1", {"a", "b"})
    assert old.after(Tail("T2", {"c"})) == Tail("T2", {"c"})
    assert Tail.from_state({"emitted_at_bookmark": old.to_state()}) == old


@pytest.mark.parametrize("size", [LISTED_DIGESTS, LISTED_DIGESTS + 1, 25_000])
def test_a_bulk_update_within_one_second_is_remembered_whole(size: int) -> None:
    bulk = Tail("T1", {record_digest({"id": n}) for n in range(size)})
    stored = json.loads(json.dumps(bulk.to_state()))
    assert Tail.from_state({"emitted_at_bookmark": stored}) == bulk
    assert len(json.dumps(stored)) < 30 * size + 100


def test_an_unreadable_packed_tail_is_an_empty_one() -> None:
    stored = {"value": "T1", "packed": "not base64!"}
    assert Tail.from_state({"emitted_at_bookmark": stored}) == Tail("T1", set())


def test_tracker_keeps_the_records_of_the_newest_time_only() -> None:
    tracker = TailTracker()
    first, second, third = ({"id": n, "t": t} for n, t in ((1, "T1"), (2, "T2"), (3, "T2")))
    for record in (first, second, third):
        tracker.add(record["t"], record)
    tracker.add(None, {"id": 4})
    assert tracker.tail() == Tail("T2", {record_digest(second), record_digest(third)})


def test_convert_keeps_statuses_as_strings_and_nulls_bad_times_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream = TapJing(config=dict(CONFIG)).streams["activity_users"]
    item = {
        "jing_uuid": "r1",
        "target_entity_uuid": "a1",
        "ems_approvestatus": 1,
        "ems_signinstatus": "0",
        "ems_signintimestamp": "",
        "ems_approvetimestamp": "not a time",
        "registration_time": "2025-06-16 17:16:25",
        "updated_time": "2025-06-17 17:16:44",
        "surprise": "new API field",
    }
    with caplog.at_level(logging.WARNING):
        record = stream.convert(item)
    assert record["ems_approvestatus"] == "1"
    assert record["ems_signintimestamp"] is None
    assert record["ems_approvetimestamp"] is None
    assert record["updated_time"] == "2025-06-17T09:16:44+00:00"
    assert "surprise" not in record
    assert "jing_uuid='r1'" in caplog.text and "ems_approvetimestamp" in caplog.text
    assert "surprise" in caplog.text


def test_the_message_writer_writes_what_the_sdk_writer_writes() -> None:
    messages = [
        RecordMessage(
            stream="users",
            record={"omni_user_uuid": "u1", "fields": {"city": "苏州"}, "updated_time": None},
            time_extracted=datetime(2025, 6, 17, 9, 16, 44, tzinfo=UTC),
        ),
        SchemaMessage(
            stream="users",
            schema={"type": "object", "properties": {"omni_user_uuid": {"type": ["string"]}}},
            key_properties=["omni_user_uuid"],
            bookmark_properties=["updated_time"],
        ),
        SchemaMessage(stream="users", schema={"type": "object"}),
        StateMessage(value={"bookmarks": {"users": {"replication_key_value": None}}}),
    ]
    for message in messages:
        ours = json.loads(MessageWriter().format_message(message))
        sdk = json.loads(SingerWriter().format_message(message))
        # msgspec writes a UTC instant with "Z", the SDK's writer with "+00:00": the same time.
        if "time_extracted" in sdk:
            extracted = datetime.fromisoformat(ours.pop("time_extracted"))
            assert extracted == datetime.fromisoformat(sdk.pop("time_extracted"))
        assert ours == sdk


def test_partition_states_are_found_added_and_reindexed_like_the_sdk_does() -> None:
    loaded = {"context": {"target_entity_uuid": "a"}, "replication_key_value": "T1"}
    tap_state = {"bookmarks": {"activity_users": {"partitions": [loaded]}}}
    manager = IndexedStateManager(stream_name="activity_users", tap_state=tap_state)
    assert manager.get_context_state({"target_entity_uuid": "a"}) is loaded
    added = manager.get_context_state({"target_entity_uuid": "b"})
    assert added == {"context": {"target_entity_uuid": "b"}}
    assert tap_state["bookmarks"]["activity_users"]["partitions"] == [loaded, added]
    assert manager.get_context_state({"target_entity_uuid": "b"}) is added
    replaced = {"context": {"target_entity_uuid": "a"}, "replication_key_value": "T2"}
    tap_state["bookmarks"]["activity_users"]["partitions"] = [replaced]
    assert manager.get_context_state({"target_entity_uuid": "c"}) == {
        "context": {"target_entity_uuid": "c"}
    }
    assert manager.get_context_state({"target_entity_uuid": "a"}) is replaced


def test_a_held_bookmark_stays_where_it_was_until_released() -> None:
    loaded = {"context": {"target_entity_uuid": "a"}, "replication_key_value": "T1"}
    tap_state = {"bookmarks": {"activity_users": {"partitions": [loaded]}}}
    manager = IndexedStateManager(
        stream_name="activity_users", tap_state=tap_state, is_sorted=True, check_sorted=True
    )
    a, b = {"target_entity_uuid": "a"}, {"target_entity_uuid": "b"}
    manager.hold(a)
    manager.hold(b)  # a partition without a bookmark keeps having none
    for value in ("T2", "T3"):
        manager.increment_state({"t": value}, context=a, replication_key="t")
        manager.increment_state({"t": value}, context=b, replication_key="t")
    assert loaded == {"context": a, "replication_key_value": "T1"}
    assert manager.get_context_state(b) == {"context": b}
    manager.release(a)
    manager.increment_state({"t": "T4"}, context=a, replication_key="t")
    assert loaded["replication_key_value"] == "T4"
    assert manager.get_context_state(b) == {"context": b}
