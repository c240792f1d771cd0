// Hostile: never returns, until the wall-time limit stops it.
package main

import hookgate "github.com/hookgate/hookgate/guest-sdk/go"

var spins uint64

func init() {
	hookgate.Plugin(func(event *hookgate.Event) (hookgate.Outcome, error) {
		for {
			spins++
		}
	})
}

func main() {}
