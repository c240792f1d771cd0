package main

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// find is the value at the configured pointer, or else at the first default
// pointer that resolves; nil when none does.
func find(payload any, field string, defaults []string) any {
	pointers := defaults
	if field != "" {
		pointers = []string{field}
	}
	for _, p := range pointers {
		if value, found := resolve(payload, p); found {
			return value
		}
	}
	return nil
}

// resolve follows an RFC 6901 JSON pointer.
func resolve(value any, pointer string) (any, bool) {
	if pointer == "" {
		return value, true
	}
	if !strings.HasPrefix(pointer, "/") {
		return nil, false
	}
	for _, token := range strings.Split(pointer[1:], "/") {
		token = strings.ReplaceAll(strings.ReplaceAll(token, "~1", "/"), "~0", "~")
		switch v := value.(type) {
		case map[string]any:
			next, found := v[token]
			if !found {
				return nil, false
			}
			value = next
		case []any:
			index, err := strconv.ParseUint(token, 10, 64)
			if err != nil || strings.HasPrefix(token, "+") || (len(token) > 1 && token[0] == '0') || index >= uint64(len(v)) {
				return nil, false
			}
			value = v[index]
		default:
			return nil, false
		}
	}
	return value, true
}

// asNumber is a JSON number as a float64.
func asNumber(value any) (float64, bool) {
	n, ok := value.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil || math.IsInf(f, 0)
}

// number is a number as Rust's f64 prints it: no exponent, no ".0".
func number(value float64) string {
	switch {
	case math.IsInf(value, 1):
		return "inf"
	case math.IsInf(value, -1):
		return "-inf"
	case math.IsNaN(value):
		return "NaN"
	}
	return strconv.FormatFloat(value, 'f', -1, 64)
}
