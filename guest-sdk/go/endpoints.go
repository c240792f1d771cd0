package hookgate

import (
	"slices"

	"github.com/hookgate/hookgate/guest-sdk/go/internal/host"
)

// Endpoint is a configured endpoint, without its URL or secrets.
type Endpoint struct {
	// Name is the endpoint's unique name, what a [Target] names.
	Name string
	// EventTypes are the event types it subscribes to; they may hold
	// wildcards such as "call.*".
	EventTypes []string
	// Tags are set by the operator, for example "team:billing".
	Tags []string
}

// HasTag reports whether the endpoint carries tag.
func (e Endpoint) HasTag(tag string) bool { return slices.Contains(e.Tags, tag) }

// Endpoints lists every configured endpoint, sorted by name.
func Endpoints() []Endpoint {
	listed := host.Current.Endpoints()
	all := make([]Endpoint, len(listed))
	for i, e := range listed {
		all[i] = Endpoint{e.Name, e.EventTypes, e.Tags}
	}
	return all
}
