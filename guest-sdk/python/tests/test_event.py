"""The SDK's event, outcomes, config helpers and matching, natively."""

import pytest

from hookgate import (
    Deliver,
    Drop,
    Endpoint,
    Event,
    InvalidConfig,
    InvalidEvent,
    Target,
    config,
    deliver,
    endpoints,
    event_type_matches,
    log,
    respond_json,
)
from hookgate.testing import TestHost


def test_headers_match_case_insensitively_and_keep_repeats():
    event = Event("t", "{}", headers=[("X-A", "1"), ("x-a", "2")])
    assert event.header("x-A") == "1"
    assert event.header_all("X-A") == ["1", "2"]
    assert event.header("missing") is None
    assert event.changed() == frozenset()


def test_set_header_replaces_every_value_and_marks_only_headers_changed():
    event = Event("t", "{}", headers=[("X-A", "1"), ("x-a", "2")])
    event.set_header("X-a", "3")
    assert event.header_all("x-a") == ["3"]
    assert event.changed() == {"headers"}


def test_removing_an_absent_header_changes_nothing():
    event = Event("t", "{}", headers=[("a", "1")])
    event.remove_header("b")
    assert event.changed() == frozenset()
    event.remove_header("A")
    assert event.headers == [] and event.changed() == {"headers"}


def test_set_json_writes_compact_utf8_and_the_content_type():
    event = Event("t")
    event.set_json({"a": 1, "name": "José"})
    assert event.body == '{"a":1,"name":"José"}'.encode()
    assert event.header("Content-Type") == "application/json"
    assert event.changed() == {"body", "headers"}


def test_a_body_that_is_not_json_is_an_invalid_event_giving_the_position():
    with pytest.raises(InvalidEvent) as raised:
        Event("t", '{"a": 1').json()
    assert raised.value.message.startswith("body is not the expected JSON: ")
    assert "char 7" in raised.value.message


def test_event_type_patterns():
    assert event_type_matches("call.*", "call.analysis.completed")
    assert event_type_matches("*.completed", "batch.completed")
    assert event_type_matches("call.*.completed", "call.analysis.completed")
    assert not event_type_matches("call.*.failed", "call.analysis.completed")
    assert event_type_matches("*", "")
    assert event_type_matches("a*b*c", "abc")
    assert not event_type_matches("a*b*c", "acb")
    assert not event_type_matches("call.completed", "call.completed.v2")


def test_config_helpers_read_the_test_hosts_configuration():
    def handler(event):
        assert config.get("missing") is None
        assert config.list("types") == ["call.*", "batch.completed"]
        assert config.parse("limit", int) == 7
        assert config.entries() == [("limit", " 7 "), ("types", " call.*, ,batch.completed ")]
        with pytest.raises(InvalidConfig, match="config key `absent` is not set"):
            config.require("absent")
        with pytest.raises(InvalidConfig, match='config key `types` has bad value " call'):
            config.parse("types", float)
        return event

    host = TestHost().with_config("types", " call.*, ,batch.completed ").with_config("limit", " 7 ")
    run = host.run(handler, Event("t"))
    assert run.error is None and isinstance(run.outcome, Event)


def test_logs_and_endpoints_come_from_the_test_host():
    def router(event):
        log.info("routing")
        names = [e.name for e in endpoints() if e.has_tag("sales")]
        return deliver(*names, Target("audit").with_json({"id": event.id}))

    host = TestHost().with_endpoint(Endpoint("crm", ["call.*"], ["sales"])).with_endpoint(Endpoint("audit"))
    run = host.run(router, Event("call.completed"))
    assert run.logs == [("info", "routing")]
    assert run.outcome == Deliver(
        (Target("crm"), Target("audit", b'{"id":"msg_test"}', [("content-type", "application/json")]))
    )


def test_plugin_errors_are_returned_and_other_exceptions_raised():
    def refuse(event):
        raise InvalidEvent("data.call_id is missing")

    run = TestHost().run(refuse, Event("t"))
    assert run.outcome is None and run.error == InvalidEvent("data.call_id is missing")
    assert run.error.kind == "invalid_event"

    def bug(event):
        return {}["nothing"]

    with pytest.raises(KeyError):
        TestHost().run(bug, Event("t"))


def test_a_handler_must_return_an_outcome():
    with pytest.raises(TypeError, match="return the event to pass it on"):
        TestHost().run(lambda event: None, Event("t"))


def test_outcome_builders():
    assert respond_json(201, {"ok": True}).json() == {"ok": True}
    assert respond_json(201, {}).headers == (("content-type", "application/json"),)
    assert Drop("x") == Drop("x")
