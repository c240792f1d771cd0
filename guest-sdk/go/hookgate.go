// Package hookgate is for writing hookgate plugins in Go.
//
// A plugin is a WebAssembly component that hookgate runs once per event, in
// a fresh sandboxed instance, to filter the event, rewrite it, choose the
// endpoints it goes to, or answer a synchronous caller. This package hides
// the generated WIT bindings: register one [Handler] with [Plugin] from an
// init function, and build the package with `cargo xtask go-plugin DIR -o
// plugin.wasm` (Go for GOOS=wasip1, then made a component).
//
// Natively (outside a component) the same code runs against the in-process
// host of package hookgatetest, so a plugin's tests run with go test.
package hookgate

import "fmt"

// Handler handles one event. It returns the event itself to pass it on
// (with whatever it changed), or what [Drop], [Deliver], [Respond] or
// [RespondJSON] build; it returns a [*PluginError] ([InvalidEvent],
// [InvalidConfig], [Failed]) to fail the event on purpose. Any other error
// is reported as [KindFailed] with its text; a panic as a `panic`.
type Handler func(event *Event) (Outcome, error)

var registered Handler

// Plugin makes handler the plugin's: the gateway calls it once per event.
// Call it from an init function of the plugin's main package. A component
// holds one plugin; a second registration panics.
func Plugin(handler Handler) {
	if handler == nil {
		panic("hookgate.Plugin: the handler is nil")
	}
	if registered != nil {
		panic("hookgate.Plugin: a plugin has one handler, and one is already registered")
	}
	registered = handler
}

// Registered is the handler [Plugin] registered, or nil.
func Registered() Handler { return registered }

// Call runs handler on event and checks what it returned: the outcome, or
// the plugin error (any other error as [KindFailed]). A nil outcome with a
// nil error is a bug in the handler and panics saying what to return.
func Call(handler Handler, event *Event) (Outcome, *PluginError) {
	outcome, err := handler(event)
	if err != nil {
		if pe, ok := err.(*PluginError); ok {
			return nil, pe
		}
		return nil, &PluginError{KindFailed, err.Error()}
	}
	if !isNil(outcome) {
		return outcome, nil
	}
	panic(fmt.Sprintf("the handler returned %#v and no error: return the event to pass it on, "+
		"or hookgate.Drop(reason), hookgate.Deliver(...), hookgate.Respond(...)", outcome))
}

func isNil(outcome Outcome) bool {
	switch o := outcome.(type) {
	case *Event:
		return o == nil
	case *DropOutcome:
		return o == nil
	case *DeliverOutcome:
		return o == nil
	case *RespondOutcome:
		return o == nil
	}
	return true
}
