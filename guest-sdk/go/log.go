package hookgate

import (
	"fmt"

	"github.com/hookgate/hookgate/guest-sdk/go/internal/host"
)

// Logging into the gateway's log, attributed to the plugin and the event.
// Output is limited per invocation (16 KiB by default); what goes beyond is
// dropped and marked truncated. What the plugin writes to stdout and stderr
// (fmt.Println, the log package) lands in the same log.
var Log Logger

// Logger writes lines to the gateway's log at a level; each method formats
// its arguments as [fmt.Sprintf] does.
type Logger struct{}

// Trace logs a line at trace level.
func (Logger) Trace(format string, args ...any) { host.Current.Log("trace", sprintf(format, args)) }

// Debug logs a line at debug level.
func (Logger) Debug(format string, args ...any) { host.Current.Log("debug", sprintf(format, args)) }

// Info logs a line at info level.
func (Logger) Info(format string, args ...any) { host.Current.Log("info", sprintf(format, args)) }

// Warn logs a line at warn level.
func (Logger) Warn(format string, args ...any) { host.Current.Log("warn", sprintf(format, args)) }

// Error logs a line at error level.
func (Logger) Error(format string, args ...any) { host.Current.Log("error", sprintf(format, args)) }

// At logs a line at a level given by name: trace, debug, info, warn or
// error.
func (Logger) At(level, format string, args ...any) error {
	switch level {
	case "trace", "debug", "info", "warn", "error":
		host.Current.Log(level, sprintf(format, args))
		return nil
	}
	return fmt.Errorf("log level must be one of trace, debug, info, warn, error, not %q", level)
}
