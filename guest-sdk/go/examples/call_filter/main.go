// call-filter in Go: drops events that do not pass the rules in its
// configuration: event types (with * wildcards), minimum duration,
// direction and status, the filters CallIntel's webhook registration
// offers.
//
// The same outcomes as the Rust plugin (plugins/call-filter), drop reasons
// and its own error messages included.
package main

import (
	"math"
	"strings"

	hookgate "github.com/hookgate/hookgate/guest-sdk/go"
)

func init() {
	hookgate.Plugin(func(event *hookgate.Event) (hookgate.Outcome, error) {
		rules, err := readRules()
		if err != nil {
			return nil, err
		}
		var payload any
		if rules.needsBody() {
			if err := event.JSON(&payload); err != nil {
				return nil, err
			}
		}
		if reason, dropped := rules.check(event.EventType(), payload); dropped {
			return hookgate.Drop("%s", reason), nil
		}
		return event, nil
	})
}

func main() {}

// Where each field is looked for when its *_field key is not set: the
// CallIntel (data.*), flat, and CallCov (audio.*) shapes.
var (
	durationFields  = []string{"/data/duration_seconds", "/duration_seconds", "/audio/duration_seconds"}
	directionFields = []string{"/data/direction", "/direction"}
	statusFields    = []string{"/data/status", "/status"}
)

// rules are one deployment's rules, read from its configuration.
type rules struct {
	keepWhenMissing                            bool
	minDuration                                *float64
	eventTypes, directions, statuses           []string
	durationField, directionField, statusField string
}

func readRules() (*rules, error) {
	r := &rules{}
	if onMissing, set := hookgate.Config.Get("on_missing"); set {
		switch strings.TrimSpace(onMissing) {
		case "keep":
			r.keepWhenMissing = true
		case "drop":
		default:
			shown, _ := hookgate.EncodeJSON(strings.TrimSpace(onMissing))
			return nil, hookgate.InvalidConfig("config key `on_missing` must be `drop` or `keep`, not %s", shown)
		}
	}
	minimum, set, err := hookgate.Config.Float("min_duration")
	if err != nil {
		return nil, err
	}
	if set {
		if minimum < 0 || math.IsNaN(minimum) || math.IsInf(minimum, 0) {
			return nil, hookgate.InvalidConfig("config key `min_duration` must be a non-negative number of seconds, not %s", number(minimum))
		}
		r.minDuration = &minimum
	}
	r.eventTypes = hookgate.Config.List("event_types")
	r.directions = hookgate.Config.List("direction")
	r.statuses = hookgate.Config.List("status")
	r.durationField = pointer("duration_field")
	r.directionField = pointer("direction_field")
	r.statusField = pointer("status_field")
	return r, nil
}

func (r *rules) needsBody() bool {
	return r.minDuration != nil || len(r.directions) > 0 || len(r.statuses) > 0
}

// check says why to drop, or dropped is false when every rule passes.
func (r *rules) check(eventType string, payload any) (reason string, dropped bool) {
	if len(r.eventTypes) > 0 && !anyMatches(r.eventTypes, eventType) {
		return "event type " + eventType + " does not match event_types " + strings.Join(r.eventTypes, ","), true
	}
	if r.minDuration != nil {
		switch duration, ok := asNumber(find(payload, r.durationField, durationFields)); {
		case ok && duration < *r.minDuration:
			return "duration " + number(duration) + "s is below min_duration " + number(*r.minDuration) + "s", true
		case !ok && !r.keepWhenMissing:
			return "the event has no duration", true
		}
	}
	for _, rule := range []struct {
		name     string
		allowed  []string
		field    string
		defaults []string
	}{
		{"direction", r.directions, r.directionField, directionFields},
		{"status", r.statuses, r.statusField, statusFields},
	} {
		if len(rule.allowed) == 0 {
			continue
		}
		value, ok := find(payload, rule.field, rule.defaults).(string)
		switch {
		case ok && !contains(rule.allowed, value):
			return rule.name + " " + value + " is not one of " + strings.Join(rule.allowed, ","), true
		case !ok && !r.keepWhenMissing:
			return "the event has no " + rule.name, true
		}
	}
	return "", false
}

func anyMatches(patterns []string, eventType string) bool {
	for _, p := range patterns {
		if hookgate.EventTypeMatches(p, eventType) {
			return true
		}
	}
	return false
}

func contains(items []string, item string) bool {
	for _, i := range items {
		if i == item {
			return true
		}
	}
	return false
}

// pointer is a JSON pointer from config, accepting data.duration as
// /data/duration; empty when unset.
func pointer(key string) string {
	raw, set := hookgate.Config.Get(key)
	if !set {
		return ""
	}
	raw = strings.TrimSpace(raw)
	if strings.HasPrefix(raw, "/") {
		return raw
	}
	return "/" + strings.ReplaceAll(raw, ".", "/")
}
