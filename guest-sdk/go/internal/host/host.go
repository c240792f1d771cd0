// Package host is where the SDK's host calls go: the gateway's imports
// inside a component (the SDK's wasip1 glue installs them), or the
// in-process test host natively. Not public API.
package host

import (
	"fmt"
	"os"
)

// Endpoint is a configured endpoint as the host lists it.
type Endpoint struct {
	Name       string
	EventTypes []string
	Tags       []string
}

// Backend is what a plugin may ask of its host.
type Backend interface {
	Log(level, message string)
	ConfigGet(key string) (string, bool)
	ConfigEntries() [][2]string
	Endpoints() []Endpoint
}

// Current answers the SDK's host calls.
var Current Backend = outside{}

// outside answers outside a component and outside a test run: no
// configuration, no endpoints, logs to stderr.
type outside struct{}

func (outside) Log(level, message string) { fmt.Fprintf(os.Stderr, "[%s] %s\n", level, message) }

func (outside) ConfigGet(string) (string, bool) { return "", false }

func (outside) ConfigEntries() [][2]string { return nil }

func (outside) Endpoints() []Endpoint { return nil }
