package main

import (
	"encoding/json"
	"os"
	"testing"

	hookgate "github.com/hookgate/hookgate/guest-sdk/go"
	"github.com/hookgate/hookgate/guest-sdk/go/hookgatetest"
)

func fixture(t *testing.T) []byte {
	t.Helper()
	body, err := os.ReadFile("../../../../tests/fixtures/voicekit/call_finalized.json")
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func continued(t *testing.T, run hookgatetest.Run) *hookgate.Event {
	t.Helper()
	event, ok := run.Outcome.(*hookgate.Event)
	if !ok {
		t.Fatalf("expected the event to continue, got %#v (error %v)", run.Outcome, run.Err)
	}
	return event
}

func TestCallFinalizedBecomesASummaryEvent(t *testing.T) {
	event := continued(t, hookgatetest.New().Run(nil, hookgate.NewEvent(finalized, fixture(t))))
	if event.EventType() != defaultSummaryType {
		t.Fatalf("event type %q", event.EventType())
	}
	var summary map[string]any
	if err := json.Unmarshal(event.Body(), &summary); err != nil {
		t.Fatal(err)
	}
	if summary["call_id"] != 123.0 || summary["recording_duration_seconds"] != 88.757 {
		t.Fatalf("summary: %v", summary)
	}
}

func TestTheSummaryEventTypeComesFromConfig(t *testing.T) {
	host := hookgatetest.New().WithConfig("event_type", "voicekit.summary")
	if got := continued(t, host.Run(nil, hookgate.NewEvent(finalized, fixture(t)))).EventType(); got != "voicekit.summary" {
		t.Fatalf("event type %q", got)
	}
}

func TestOtherEventsPassThroughUnchanged(t *testing.T) {
	event := continued(t, hookgatetest.New().Run(nil, hookgate.NewEvent("call_started", []byte(`{}`))))
	if event.Changed() != (hookgate.Changed{}) {
		t.Fatalf("changed: %+v", event.Changed())
	}
}

func TestAMissingFieldIsAnInvalidEventNamingIt(t *testing.T) {
	var payload map[string]any
	if err := json.Unmarshal(fixture(t), &payload); err != nil {
		t.Fatal(err)
	}
	delete(payload["data"].(map[string]any)["egress_info"].(map[string]any), "duration")
	body, _ := json.Marshal(payload)
	run := hookgatetest.New().Run(nil, hookgate.NewEvent(finalized, body))
	want := hookgate.PluginError{Kind: hookgate.KindInvalidEvent, Message: "data.egress_info.duration is missing"}
	if run.Err == nil || *run.Err != want {
		t.Fatalf("%+v", run)
	}
}
