"""The example plugins, natively: the same outcomes as their Rust
originals' unit tests."""

import json

import call_filter
import livekit_summary
import pytest

from hookgate import Drop, Event, InvalidConfig, InvalidEvent
from hookgate.testing import TestHost

SUMMARY = {
    "call_id": 123,
    "call_slug": "abc12345",
    "workflow_id": 456,
    "organization_id": 789,
    "recording_url": "https://recordings.example.com/path/to/audio.ogg",
    "file_type": "ogg",
    "egress_id": "EG_dmi8xHQYNX6r",
    "egress_status": "EGRESS_COMPLETE",
    "room_name": "VOICEKIT_workflow_abc12345_8453",
    "recording_duration_seconds": 88.757,
    "wall_time_seconds": 91.422,
    "size_bytes": 1442477,
    "size_mb": 1.44,
    "finalized_at": "2024-01-15T10:33:00.000Z",
}


def test_call_finalized_becomes_a_summary_event(fixture):
    run = TestHost().run(livekit_summary.handle, Event("call_finalized", fixture("voicekit/call_finalized.json")))
    assert run.outcome.event_type == "call.summary"
    assert run.outcome.header("content-type") == "application/json"
    assert json.loads(run.outcome.body) == SUMMARY


def test_summary_event_type_comes_from_config(fixture):
    host = TestHost().with_config("event_type", "voicekit.summary")
    run = host.run(livekit_summary.handle, Event("call_finalized", fixture("voicekit/call_finalized.json")))
    assert run.outcome.event_type == "voicekit.summary"


def test_other_events_pass_through_unchanged():
    original = Event("call_started", '{"event":"call_started"}')
    run = TestHost().run(livekit_summary.handle, Event("call_started", '{"event":"call_started"}'))
    assert run.outcome == original


def error_for(fixture_json, edit):
    payload = fixture_json("voicekit/call_finalized.json")
    edit(payload)
    with pytest.raises(InvalidEvent) as raised:
        livekit_summary.summarize(payload)
    return raised.value.message


def test_summary_errors_name_the_field(fixture_json):
    egress = lambda p: p["data"]["egress_info"]  # noqa: E731
    assert error_for(fixture_json, lambda p: egress(p).pop("duration")) == "data.egress_info.duration is missing"
    assert error_for(fixture_json, lambda p: egress(p).update(file_size="12kb")) == (
        'data.egress_info.file_size must be a non-negative integer (as a string or number), found "12kb"'
    )
    assert error_for(fixture_json, lambda p: p["data"].pop("egress_info")) == "data.egress_info is missing"
    assert error_for(fixture_json, lambda p: p["data"].update(egress_info="oops")) == (
        "data.egress_info must be an object, found a string"
    )
    assert error_for(fixture_json, lambda p: egress(p).update(ended_at="1")) == (
        "data.egress_info.ended_at is before data.egress_info.started_at"
    )
    assert error_for(fixture_json, lambda p: p.pop("data")) == "data is missing"


def test_numeric_egress_fields_are_accepted_as_numbers_too(fixture_json):
    payload = fixture_json("voicekit/call_finalized.json")
    payload["data"]["egress_info"]["duration"] = 2_000_000_000
    assert livekit_summary.summarize(payload)["recording_duration_seconds"] == 2.0


def test_with_no_rules_every_call_passes(fixture):
    event = Event("call.completed", fixture("callintel/call.completed.json"))
    assert TestHost().run(call_filter.handle, event).outcome is event


def test_callintel_example_filters_keep_the_matching_call(fixture):
    host = (
        TestHost()
        .with_config("event_types", "call.*")
        .with_config("direction", "outbound")
        .with_config("status", "completed")
        .with_config("min_duration", "60")
    )
    event = Event("call.completed", fixture("callintel/call.completed.json"))
    assert host.run(call_filter.handle, event).outcome is event


def test_a_short_call_is_dropped_with_the_reason(fixture):
    host = TestHost().with_config("min_duration", "400")
    run = host.run(call_filter.handle, Event("call.completed", fixture("callintel/call.completed.json")))
    assert run.outcome == Drop("duration 345s is below min_duration 400s")


def test_an_event_type_outside_the_list_is_dropped_without_reading_the_body():
    host = TestHost().with_config("event_types", "call.*")
    run = host.run(call_filter.handle, Event("batch.completed", "not even json"))
    assert run.outcome == Drop("event type batch.completed does not match event_types call.*")


def test_a_bad_min_duration_is_a_config_error_naming_the_key(fixture):
    host = TestHost().with_config("min_duration", "a minute")
    run = host.run(call_filter.handle, Event("call.completed", fixture("callintel/call.completed.json")))
    assert isinstance(run.error, InvalidConfig) and "min_duration" in run.error.message


def test_callcov_duration_is_found_under_audio():
    host = TestHost().with_config("min_duration", "200")
    run = host.run(call_filter.handle, Event("completed", '{"audio": {"duration_seconds": 125.5}}'))
    assert run.outcome == Drop("duration 125.5s is below min_duration 200s")


def test_missing_fields_drop_unless_told_to_keep():
    host = TestHost().with_config("direction", "outbound")
    event = Event("batch.completed", '{"data": {}}')
    assert host.run(call_filter.handle, event).outcome == Drop("the event has no direction")
    assert host.with_config("on_missing", "keep").run(call_filter.handle, event).outcome is event


def test_a_configured_field_pointer_is_used_instead_of_the_defaults():
    host = TestHost().with_config("status", "ok").with_config("status_field", "result.state")
    run = host.run(call_filter.handle, Event("x", '{"status": "ok", "result": {"state": "bad"}}'))
    assert run.outcome == Drop("status bad is not one of ok")
