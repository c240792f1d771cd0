package main

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	hookgate "github.com/hookgate/hookgate/guest-sdk/go"
)

const (
	nanosPerSecond = 1e9
	bytesPerMB     = 1e6
)

// summarize builds the call summary from a call_finalized payload:
// durations in seconds to the millisecond, the size in bytes and in MB
// (10^6 bytes, two decimals).
func summarize(payload any) (map[string]any, error) {
	data, err := object(payload, "data", "")
	if err != nil {
		return nil, err
	}
	egress, err := object(data, "egress_info", "data.")
	if err != nil {
		return nil, err
	}
	field := func(name string) string { return "data.egress_info." + name }
	var started, ended, duration, size uint64
	for _, n := range []struct {
		key  string
		into *uint64
	}{{"started_at", &started}, {"ended_at", &ended}, {"duration", &duration}, {"file_size", &size}} {
		if *n.into, err = nanos(egress, n.key, field(n.key)); err != nil {
			return nil, err
		}
	}
	if ended < started {
		return nil, hookgate.InvalidEvent("data.egress_info.ended_at is before data.egress_info.started_at")
	}
	callID, err := required(data, "call_id", "data.call_id")
	if err != nil {
		return nil, err
	}
	summary := map[string]any{
		"call_id":                    callID,
		"call_slug":                  data["call_slug"],
		"workflow_id":                data["workflow_id"],
		"organization_id":            data["organization_id"],
		"recording_url":              data["recording_url"],
		"egress_id":                  egress["egress_id"],
		"recording_duration_seconds": round(float64(duration)/nanosPerSecond, 3),
		"wall_time_seconds":          round(float64(ended-started)/nanosPerSecond, 3),
		"size_bytes":                 size,
		"size_mb":                    round(float64(size)/bytesPerMB, 2),
		"finalized_at":               payload.(map[string]any)["timestamp"], // an object: data was found in it
	}
	for _, s := range [][2]string{{"file_type", "file_type"}, {"status", "egress_status"}, {"room_name", "room_name"}} {
		if summary[s[1]], err = str(egress, s[0], field(s[0])); err != nil {
			return nil, err
		}
	}
	return summary, nil
}

func object(parent any, key, prefix string) (map[string]any, error) {
	parentObject, _ := parent.(map[string]any)
	value, found := parentObject[key]
	if !found {
		return nil, hookgate.InvalidEvent("%s%s is missing", prefix, key)
	}
	object, ok := value.(map[string]any)
	if !ok {
		return nil, hookgate.InvalidEvent("%s%s must be an object, found %s", prefix, key, kind(value))
	}
	return object, nil
}

// required is the value of a key that must be set and not null.
func required(data map[string]any, key, path string) (any, error) {
	value := data[key]
	if value == nil {
		return nil, hookgate.InvalidEvent("%s is missing", path)
	}
	return value, nil
}

func str(data map[string]any, key, path string) (string, error) {
	value, err := required(data, key, path)
	if err != nil {
		return "", err
	}
	s, ok := value.(string)
	if !ok {
		return "", hookgate.InvalidEvent("%s must be a string, found %s", path, kind(value))
	}
	return s, nil
}

// nanos is a non-negative integer given as a decimal string (LiveKit's
// style) or a JSON number.
func nanos(data map[string]any, key, path string) (uint64, error) {
	value, err := required(data, key, path)
	if err != nil {
		return 0, err
	}
	var parsed uint64
	var parseErr error
	switch v := value.(type) {
	case string:
		parsed, parseErr = strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(v), "+"), 10, 64)
	case json.Number:
		parsed, parseErr = strconv.ParseUint(v.String(), 10, 64)
	default:
		parseErr = strconv.ErrSyntax
	}
	if parseErr != nil {
		shown, _ := hookgate.EncodeJSON(value)
		return 0, hookgate.InvalidEvent("%s must be a non-negative integer (as a string or number), found %s", path, shown)
	}
	return parsed, nil
}

// round rounds half away from zero, as Rust's f64::round.
func round(value float64, decimals int) float64 {
	scale := math.Pow(10, float64(decimals))
	return math.Round(value*scale) / scale
}

func kind(value any) string {
	switch value.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}
