"""Every private part of the Singer SDK that the connectors use is still there, as used.

One test per use listed in `jing_singer.sdk_private`, `tap_jing.sdk_private` and
`target_jing.sdk_private`. When an SDK upgrade renames, removes or reshapes one,
the test named after it fails, before any run does.
"""

from __future__ import annotations

import inspect

from singer_sdk import Stream
from singer_sdk.plugin_base import PluginBase
from singer_sdk.sinks import Sink

import jing_singer.sdk_private as shared
import tap_jing.sdk_private as tap_private
import target_jing.sdk_private as target_private


def _source(function: object) -> str:
    return inspect.getsource(function)  # type: ignore[arg-type]


def test_config_input_is_what_cb_config_gives_invoke() -> None:
    fields = {f for f in shared.ConfigInput.__dataclass_fields__}
    assert fields == {"config", "parse_env"}
    assert "cls.invoke" in _source(PluginBase.get_singer_command)
    assert "config.config" in _source(__import__("singer_sdk").Tap.invoke)
    assert "parse_env_config=config.parse_env" in _source(__import__("singer_sdk").Tap.invoke)


def test_validate_config_is_the_check_init_calls() -> None:
    parameters = inspect.signature(PluginBase._validate_config).parameters
    assert list(parameters) == ["self", "raise_errors"]
    assert parameters["raise_errors"].kind is inspect.Parameter.KEYWORD_ONLY
    init = _source(PluginBase.__init__)
    assert "self._validate_config(raise_errors=validate_config)" in init
    assert "self._config = config_dict" in init
    assert init.index("self._config = config_dict") < init.index("self._validate_config(")


def test_stream_state_manager_is_what_the_stream_builds() -> None:
    assert tap_private.StreamStateManager.__module__ == "singer_sdk.streams._state"
    for name in ("get_context_state", "stream_state"):
        assert hasattr(tap_private.StreamStateManager, name), name
    parameters = inspect.signature(tap_private.StreamStateManager).parameters
    for name in ("tap_name", "stream_name", "tap_state", "state_partitioning_keys", "is_sorted"):
        assert name in parameters, name
    assert "_state_manager" in _source(Stream.state_manager.fget)  # type: ignore[union-attr]


def test_sync_children_is_the_step_after_an_emitted_parent() -> None:
    assert list(inspect.signature(Stream._sync_children).parameters) == ["self", "child_context"]
    assert "self._sync_children(" in _source(Stream._process_record)


def test_write_starting_replication_value_is_what_a_partition_sync_writes_first() -> None:
    parameters = inspect.signature(Stream._write_starting_replication_value).parameters
    assert list(parameters) == ["self", "context"]
    assert "self._write_starting_replication_value(" in _source(Stream._sync_records)
    assert "_write_starting_replication_value(" in _source(tap_private.write_starting_value)


def test_the_selection_walk_is_the_core_modules_global_that_each_record_goes_through() -> None:
    import singer_sdk.helpers._catalog as sdk_catalog
    import singer_sdk.streams.core as sdk_stream_core

    assert "pop_deselected_record_properties(record, self.schema, self.mask)" in _source(
        Stream._generate_record_messages
    )
    tap_private.skip_selection_walk_when_all_selected()
    tap_private.skip_selection_walk_when_all_selected()  # once is enough: not wrapped twice
    wrapped = sdk_stream_core.pop_deselected_record_properties
    assert wrapped.skips_when_all_selected  # type: ignore[attr-defined]
    assert (
        list(inspect.signature(wrapped).parameters)
        == list(inspect.signature(sdk_catalog.pop_deselected_record_properties).parameters)[:3]
    )


def test_the_walk_is_skipped_only_when_the_mask_selects_everything() -> None:
    import singer_sdk.streams.core as sdk_stream_core
    from singer_sdk.singerlib.catalog import SelectionMask

    tap_private.skip_selection_walk_when_all_selected()
    walk = sdk_stream_core.pop_deselected_record_properties
    every = SelectionMask({(): True, ("properties", "a"): True, ("properties", "b"): True})
    record = {"a": 1, "b": {"c": 2}, "d": 3}
    walk(record, {}, every)
    assert record == {"a": 1, "b": {"c": 2}, "d": 3}
    some = SelectionMask(
        {(): True, ("properties", "a"): True, ("properties", "b", "properties", "c"): False}
    )
    record = {"a": 1, "b": {"c": 2, "e": 4}}
    walk(record, {}, some)
    assert record == {"a": 1, "b": {"e": 4}}
    none_of_b = SelectionMask({(): True, ("properties", "b"): False})
    record = {"a": 1, "b": 2}
    walk(record, {}, none_of_b)
    assert record == {"a": 1}


def test_write_state_message_is_the_one_state_writer() -> None:
    assert list(inspect.signature(Stream._write_state_message).parameters) == ["self"]
    assert "self._write_state_message()" in _source(Stream._sync_records)
    assert tap_private.StateWriteGate._write_state_message.__name__ == "_write_state_message"


def test_validate_and_parse_is_where_a_sink_checks_a_record() -> None:
    assert list(inspect.signature(Sink._validate_and_parse).parameters) == ["self", "record"]
    assert target_private.RecordsAsTheyCome._validate_and_parse.__name__ in dir(Sink)
    reader = _source(__import__("singer_sdk").Target._process_record_message)
    assert "_validate_and_parse(" in reader


def test_setup_signal_handlers_is_called_at_init() -> None:
    assert list(inspect.signature(PluginBase._setup_signal_handlers).parameters) == ["self"]
    assert "self._setup_signal_handlers()" in _source(PluginBase.__init__)
