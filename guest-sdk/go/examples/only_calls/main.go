// The README's ten-line plugin: passes call events, drops the rest.
package main

import (
	"strings"

	hookgate "github.com/hookgate/hookgate/guest-sdk/go"
)

func init() {
	hookgate.Plugin(func(event *hookgate.Event) (hookgate.Outcome, error) {
		if strings.HasPrefix(event.EventType(), "call.") {
			return event, nil
		}
		return hookgate.Drop("%s is not a call event", event.EventType()), nil
	})
}

func main() {}
