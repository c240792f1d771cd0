// Package export_wit_world holds the world's exported function, which the
// generated exports call: it runs the handler the SDK installs. Kept by
// generate-bindings.sh.
package export_wit_world

import (
	types "github.com/hookgate/hookgate/guest-sdk/go/internal/wit/hookgate_plugin_types"
	witTypes "github.com/hookgate/hookgate/guest-sdk/go/internal/wit/types"
)

// Handler handles one event; the SDK sets it when the component starts.
var Handler func(types.Event) witTypes.Result[types.Action, types.PluginError]

// Handle is the component's export `handle`.
func Handle(event types.Event) witTypes.Result[types.Action, types.PluginError] {
	return Handler(event)
}
