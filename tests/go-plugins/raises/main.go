// Hostile: panics, which must reach the gateway as a panic carrying its
// message and stack.
package main

import (
	"fmt"

	hookgate "github.com/hookgate/hookgate/guest-sdk/go"
)

func refuse(event *hookgate.Event) {
	panic(fmt.Sprintf("refusing event %s of type %s", event.ID(), event.EventType()))
}

func init() {
	hookgate.Plugin(func(event *hookgate.Event) (hookgate.Outcome, error) {
		refuse(event)
		return event, nil
	})
}

func main() {}
