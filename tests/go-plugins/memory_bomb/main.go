// Hostile: allocates until the memory limit stops it.
package main

import hookgate "github.com/hookgate/hookgate/guest-sdk/go"

var hoard [][]byte

func init() {
	hookgate.Plugin(func(event *hookgate.Event) (hookgate.Outcome, error) {
		for {
			chunk := make([]byte, 1<<20)
			for i := range chunk {
				chunk[i] = 1
			}
			hoard = append(hoard, chunk)
		}
	})
}

func main() {}
