package hookgate

import (
	"errors"
	"strconv"
	"strings"

	"github.com/hookgate/hookgate/guest-sdk/go/internal/host"
)

// Config is read-only access to the plugin's configuration: the key/value
// strings set when it was deployed.
var Config Configuration

// Configuration reads the plugin's configuration; see [Config].
type Configuration struct{}

// Get is the value of a key, and whether it is set.
func (Configuration) Get(key string) (string, bool) { return host.Current.ConfigGet(key) }

// Entries is every key and value, sorted by key.
func (Configuration) Entries() [][2]string { return host.Current.ConfigEntries() }

// Require is the value of a key, or an [InvalidConfig] naming the key when
// it is not set.
func (c Configuration) Require(key string) (string, error) {
	value, ok := c.Get(key)
	if !ok {
		return "", InvalidConfig("config key `%s` is not set", key)
	}
	return value, nil
}

// Float is the value of a key as a number, parsed as Rust's f64 (and the
// other SDKs) parse it: decimal or exponent notation, "inf" and "NaN", no
// hexadecimal and no underscores. ok is false when the key is not set; a
// value that does not parse is an [InvalidConfig] naming the key.
func (c Configuration) Float(key string) (value float64, ok bool, err error) {
	raw, ok := c.Get(key)
	if !ok {
		return 0, false, nil
	}
	text := strings.TrimSpace(raw)
	value, parseErr := strconv.ParseFloat(text, 64)
	if errors.Is(parseErr, strconv.ErrRange) {
		parseErr = nil // past the range is ±Inf or 0, as in Rust
	}
	if parseErr != nil || strings.ContainsAny(text, "_xXpP") {
		return 0, true, InvalidConfig("config key `%s` has bad value %s: invalid float literal", key, quoted(raw))
	}
	return value, true, nil
}

// Int is the value of a key as a signed integer; ok is false when the key
// is not set; a value that does not parse is an [InvalidConfig].
func (c Configuration) Int(key string) (value int64, ok bool, err error) {
	raw, ok := c.Get(key)
	if !ok {
		return 0, false, nil
	}
	value, parseErr := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(raw), "+"), 10, 64)
	if parseErr != nil {
		return 0, true, InvalidConfig("config key `%s` has bad value %s: invalid digit found in string", key, quoted(raw))
	}
	return value, true, nil
}

// List is the value of a key split on commas, trimmed, with empty items
// removed; empty when the key is not set.
func (c Configuration) List(key string) []string {
	raw, _ := c.Get(key)
	var items []string
	for _, item := range strings.Split(raw, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// quoted is s as a JSON string, as the other SDKs show a bad value.
func quoted(s string) string {
	text, _ := EncodeJSON(s)
	return string(text)
}
