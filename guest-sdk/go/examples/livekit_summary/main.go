// livekit-summary in Go: turns VoiceKit's call_finalized event, which
// carries LiveKit egress info with nanosecond times and sizes as strings,
// into a compact call summary. Every other event passes unchanged.
//
// The same outputs as the Rust plugin (plugins/livekit-summary), error
// messages included; tests/it/languages.rs compares them on the fixtures.
package main

import (
	hookgate "github.com/hookgate/hookgate/guest-sdk/go"
)

const (
	finalized          = "call_finalized"
	defaultSummaryType = "call.summary"
)

func init() { hookgate.Plugin(handle) }

func main() {}

func handle(event *hookgate.Event) (hookgate.Outcome, error) {
	if event.EventType() != finalized {
		return event, nil
	}
	var payload any
	if err := event.JSON(&payload); err != nil {
		return nil, err
	}
	summary, err := summarize(payload)
	if err != nil {
		return nil, err
	}
	if err := event.SetJSON(summary); err != nil {
		return nil, err
	}
	summaryType, ok := hookgate.Config.Get("event_type")
	if !ok {
		summaryType = defaultSummaryType
	}
	event.SetEventType(summaryType)
	return event, nil
}
