// Package hookgatetest is an in-process host, so a plugin's unit tests run
// natively with go test.
//
// It stands in for the gateway's host functions only: configuration, the
// endpoint list and logging. It does not enforce the gateway's time or
// memory limits; run the built component with `hookgate plugin run` for
// those.
package hookgatetest

import (
	"maps"
	"slices"
	"sort"
	"sync"

	hookgate "github.com/hookgate/hookgate/guest-sdk/go"
	"github.com/hookgate/hookgate/guest-sdk/go/internal/host"
)

// Line is one line a handler logged.
type Line struct {
	Level, Message string
}

// Run is what one call of a handler did.
type Run struct {
	// Outcome is what it returned, nil when it failed.
	Outcome hookgate.Outcome
	// Err is the plugin error it returned, if any (any other error as
	// kind failed, as the gateway records it).
	Err *hookgate.PluginError
	// Logs are the lines it logged, in order.
	Logs []Line
}

// Host holds the configuration and endpoints a handler sees.
type Host struct {
	config    map[string]string
	endpoints []hookgate.Endpoint
}

// New is a host with no configuration and no endpoints.
func New() Host { return Host{config: map[string]string{}} }

// WithConfig is a copy of this host with one more configuration key.
func (h Host) WithConfig(key, value string) Host {
	config := maps.Clone(h.config)
	if config == nil {
		config = map[string]string{}
	}
	config[key] = value
	return Host{config, h.endpoints}
}

// WithEndpoint is a copy of this host with one more endpoint.
func (h Host) WithEndpoint(endpoint hookgate.Endpoint) Host {
	return Host{h.config, append(slices.Clone(h.endpoints), endpoint)}
}

// serial keeps runs from sharing the SDK's one host at once.
var serial sync.Mutex

// Run calls handler (nil: the one hookgate.Plugin registered) on event,
// capturing its logs. A panic propagates, as a bug in a test should.
func (h Host) Run(handler hookgate.Handler, event *hookgate.Event) Run {
	if handler == nil {
		handler = hookgate.Registered()
	}
	if handler == nil {
		panic("hookgatetest: no handler: pass one, or register one with hookgate.Plugin")
	}
	serial.Lock()
	defer serial.Unlock()
	recording := &recording{host: h}
	previous := host.Current
	host.Current = recording
	defer func() { host.Current = previous }()
	outcome, err := hookgate.Call(handler, event)
	return Run{Outcome: outcome, Err: err, Logs: recording.logs}
}

type recording struct {
	host Host
	logs []Line
}

func (r *recording) Log(level, message string) {
	r.logs = append(r.logs, Line{level, message})
}

func (r *recording) ConfigGet(key string) (string, bool) {
	value, ok := r.host.config[key]
	return value, ok
}

func (r *recording) ConfigEntries() [][2]string {
	entries := make([][2]string, 0, len(r.host.config))
	for _, key := range slices.Sorted(maps.Keys(r.host.config)) {
		entries = append(entries, [2]string{key, r.host.config[key]})
	}
	return entries
}

func (r *recording) Endpoints() []host.Endpoint {
	listed := make([]host.Endpoint, len(r.host.endpoints))
	for i, e := range r.host.endpoints {
		listed[i] = host.Endpoint{Name: e.Name, EventTypes: e.EventTypes, Tags: e.Tags}
	}
	sort.Slice(listed, func(i, j int) bool { return listed[i].Name < listed[j].Name })
	return listed
}
