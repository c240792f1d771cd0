package main

import (
	"testing"

	hookgate "github.com/hookgate/hookgate/guest-sdk/go"
	"github.com/hookgate/hookgate/guest-sdk/go/hookgatetest"
)

const completed = `{"data": {"duration_seconds": 345, "direction": "outbound", "status": "completed"}}`

func run(host hookgatetest.Host, eventType, body string) hookgatetest.Run {
	return host.Run(nil, hookgate.NewEvent(eventType, []byte(body)))
}

func TestAShortCallIsDroppedWithTheReason(t *testing.T) {
	got := run(hookgatetest.New().WithConfig("min_duration", "400"), "call.completed", completed)
	if drop, ok := got.Outcome.(*hookgate.DropOutcome); !ok || drop.Reason != "duration 345s is below min_duration 400s" {
		t.Fatalf("%+v", got)
	}
}

func TestAnEventPassingEveryRuleContinues(t *testing.T) {
	host := hookgatetest.New().
		WithConfig("event_types", "call.*").
		WithConfig("min_duration", "60").
		WithConfig("direction", "outbound, inbound")
	if got := run(host, "call.completed", completed); got.Outcome == nil {
		t.Fatalf("%+v", got)
	}
}

func TestAFieldFromConfigIsReadAsAPointerOrADottedPath(t *testing.T) {
	for _, field := range []string{"data.result", "/data/result"} {
		host := hookgatetest.New().WithConfig("status", "ok").WithConfig("status_field", field)
		got := run(host, "call.completed", `{"data": {"result": "failed"}}`)
		if drop, ok := got.Outcome.(*hookgate.DropOutcome); !ok || drop.Reason != "status failed is not one of ok" {
			t.Fatalf("%s: %+v", field, got)
		}
	}
}

func TestABadSettingIsAConfigErrorNamingTheKey(t *testing.T) {
	for key, value := range map[string]string{"min_duration": "a minute", "on_missing": "maybe"} {
		got := run(hookgatetest.New().WithConfig(key, value), "call.completed", completed)
		if got.Err == nil || got.Err.Kind != hookgate.KindInvalidConfig {
			t.Fatalf("%s: %+v", key, got)
		}
	}
}
