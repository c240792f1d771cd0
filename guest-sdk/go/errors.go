package hookgate

import "fmt"

// ErrorKind is the class of a [PluginError], as the gateway records it.
type ErrorKind string

// The error kinds.
const (
	// KindInvalidEvent: the event lacks something the plugin needs.
	KindInvalidEvent ErrorKind = "invalid_event"
	// KindInvalidConfig: the plugin's configuration is missing a key or
	// has a bad value.
	KindInvalidConfig ErrorKind = "invalid_config"
	// KindFailed: any other failure the plugin reports.
	KindFailed ErrorKind = "failed"
)

// PluginError is a failure the plugin reports on purpose. The event goes to
// the dead letter with it and is not retried, since the same input would
// fail the same way. A handler that returns any other error reports it as
// [KindFailed] with the error's text; a panic is a bug, reported to the
// gateway as a `panic` with its message and stack.
type PluginError struct {
	Kind    ErrorKind
	Message string
}

func (e *PluginError) Error() string { return string(e.Kind) + ": " + e.Message }

// InvalidEvent reports an event without the shape the plugin needs; the
// message names the field, for example "data.egress_info.duration is
// missing". Arguments are formatted as by [fmt.Sprintf].
func InvalidEvent(format string, args ...any) *PluginError {
	return &PluginError{KindInvalidEvent, sprintf(format, args)}
}

// InvalidConfig reports a missing or bad configuration value.
func InvalidConfig(format string, args ...any) *PluginError {
	return &PluginError{KindInvalidConfig, sprintf(format, args)}
}

// Failed reports any other failure.
func Failed(format string, args ...any) *PluginError {
	return &PluginError{KindFailed, sprintf(format, args)}
}

func sprintf(format string, args []any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}
