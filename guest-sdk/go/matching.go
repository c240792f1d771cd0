package hookgate

import "strings"

// EventTypeMatches reports whether eventType matches pattern, as endpoints
// and filters match event types: "*" matches any run of characters (dots
// and nothing included); everything else matches itself.
func EventTypeMatches(pattern, eventType string) bool {
	parts := strings.Split(pattern, "*")
	rest, ok := strings.CutPrefix(eventType, parts[0])
	if !ok {
		return false
	}
	if len(parts) == 1 {
		return rest == ""
	}
	for _, part := range parts[1 : len(parts)-1] {
		at := strings.Index(rest, part)
		if at < 0 {
			return false
		}
		rest = rest[at+len(part):]
	}
	return strings.HasSuffix(rest, parts[len(parts)-1])
}
