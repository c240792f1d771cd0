//go:build wasip1

package hookgate

// The component side of the SDK: the gateway's imports behind the SDK's
// host calls, and the exported `handle` that runs the registered handler.
// Built only for GOOS=wasip1, so the generated bindings are never needed
// natively. Not public API.

import (
	"fmt"
	"runtime/debug"

	"github.com/hookgate/hookgate/guest-sdk/go/internal/host"
	witConfig "github.com/hookgate/hookgate/guest-sdk/go/internal/wit/hookgate_plugin_config"
	witEndpoints "github.com/hookgate/hookgate/guest-sdk/go/internal/wit/hookgate_plugin_endpoints"
	witLog "github.com/hookgate/hookgate/guest-sdk/go/internal/wit/hookgate_plugin_log"
	types "github.com/hookgate/hookgate/guest-sdk/go/internal/wit/hookgate_plugin_types"
	witTypes "github.com/hookgate/hookgate/guest-sdk/go/internal/wit/types"

	"github.com/hookgate/hookgate/guest-sdk/go/internal/wit/export_wit_world"
	// The generated //go:wasmexport functions.
	_ "github.com/hookgate/hookgate/guest-sdk/go/internal/wit/exports"
)

func init() {
	host.Current = gateway{}
	export_wit_world.Handler = handle
}

var levels = map[string]witLog.Level{
	"trace": witLog.LevelTrace,
	"debug": witLog.LevelDebug,
	"info":  witLog.LevelInfo,
	"warn":  witLog.LevelWarn,
	"error": witLog.LevelError,
}

// gateway answers host calls with the gateway's imports.
type gateway struct{}

func (gateway) Log(level, message string) { witLog.Log(levels[level], message) }

func (gateway) ConfigGet(key string) (string, bool) {
	value := witConfig.Get(key)
	if value.IsNone() {
		return "", false
	}
	return value.Some(), true
}

func (gateway) ConfigEntries() [][2]string {
	all := witConfig.Entries()
	entries := make([][2]string, len(all))
	for i, e := range all {
		entries[i] = [2]string{e.F0, e.F1}
	}
	return entries
}

func (gateway) Endpoints() []host.Endpoint {
	all := witEndpoints.All()
	listed := make([]host.Endpoint, len(all))
	for i, e := range all {
		listed[i] = host.Endpoint{Name: e.Name, EventTypes: e.EventTypes, Tags: e.Tags}
	}
	return listed
}

type result = witTypes.Result[types.Action, types.PluginError]

// handle runs the registered handler on one event. A panic is reported
// with its value and stack before the instance traps, so the gateway shows
// a panic, not an anonymous trap.
func handle(event types.Event) result {
	defer func() {
		if value := recover(); value != nil {
			witLog.ReportPanic(fmt.Sprintf("panic: %v\n\n%s", value, debug.Stack()))
			panic(value)
		}
	}()
	handler := Registered()
	if handler == nil {
		panic("no handler: register one with hookgate.Plugin from an init function")
	}
	headers := make([]Header, len(event.Headers))
	for i, h := range event.Headers {
		headers[i] = Header{h.Name, h.Value}
	}
	ours := FromParts(event.Id, event.Source, event.EventType, event.ReceivedAt, headers, event.Body)
	outcome, err := Call(handler, ours)
	if err != nil {
		return witTypes.Err[types.Action](pluginError(err))
	}
	return witTypes.Ok[types.Action, types.PluginError](action(outcome))
}

func witHeaders(headers []Header) []types.Header {
	converted := make([]types.Header, len(headers))
	for i, h := range headers {
		converted[i] = types.Header{Name: h.Name, Value: h.Value}
	}
	return converted
}

func action(outcome Outcome) types.Action {
	switch o := outcome.(type) {
	case *Event:
		rewrite := types.Rewrite{
			EventType: witTypes.None[string](),
			Headers:   witTypes.None[[]types.Header](),
			Body:      witTypes.None[[]uint8](),
		}
		if o.changed.EventType {
			rewrite.EventType = witTypes.Some(o.eventType)
		}
		if o.changed.Headers {
			rewrite.Headers = witTypes.Some(witHeaders(o.headers))
		}
		if o.changed.Body {
			rewrite.Body = witTypes.Some(o.body)
		}
		return types.MakeActionContinue(rewrite)
	case *DropOutcome:
		return types.MakeActionDrop(o.Reason)
	case *DeliverOutcome:
		targets := make([]types.Target, len(o.Targets))
		for i, t := range o.Targets {
			body := witTypes.None[[]uint8]()
			if t.Body != nil {
				body = witTypes.Some(t.Body)
			}
			targets[i] = types.Target{Endpoint: t.Endpoint, Body: body, Headers: witHeaders(t.Headers)}
		}
		return types.MakeActionDeliver(targets)
	case *RespondOutcome:
		return types.MakeActionRespond(types.Response{Status: o.Status, Headers: witHeaders(o.Headers), Body: o.Body})
	}
	panic(fmt.Sprintf("not an outcome: %#v", outcome))
}

func pluginError(err *PluginError) types.PluginError {
	switch err.Kind {
	case KindInvalidEvent:
		return types.MakePluginErrorInvalidEvent(err.Message)
	case KindInvalidConfig:
		return types.MakePluginErrorInvalidConfig(err.Message)
	}
	return types.MakePluginErrorFailed(err.Message)
}
