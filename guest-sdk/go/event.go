package hookgate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Header is one HTTP header; names match case-insensitively and a name may
// occur more than once, in order.
type Header struct {
	Name  string
	Value string
}

// Event is one event, as the gateway received it or as an earlier plugin
// rewrote it. It remembers which parts were changed, so passing it on
// unchanged costs nothing.
type Event struct {
	id, source, eventType string
	receivedAt            uint64
	headers               []Header
	body                  []byte
	changed               Changed
}

// Changed says which parts of an [Event] were rewritten.
type Changed struct {
	EventType, Headers, Body bool
}

// NewEvent is an event as the gateway would pass it, for tests: id
// "msg_test", source "test", no headers; [Event.WithID] and the other With
// methods set the rest.
func NewEvent(eventType string, body []byte) *Event {
	return &Event{id: "msg_test", source: "test", eventType: eventType, body: body}
}

// FromParts is an event with every part given and nothing marked changed.
func FromParts(id, source, eventType string, receivedAt uint64, headers []Header, body []byte) *Event {
	return &Event{id: id, source: source, eventType: eventType, receivedAt: receivedAt, headers: headers, body: body}
}

// WithID sets the message id (for tests).
func (e *Event) WithID(id string) *Event { e.id = id; return e }

// WithSource sets the source (for tests).
func (e *Event) WithSource(source string) *Event { e.source = source; return e }

// WithReceivedAt sets when it was received, in ms since the Unix epoch (for
// tests).
func (e *Event) WithReceivedAt(millis uint64) *Event { e.receivedAt = millis; return e }

// WithHeader adds a header without marking the headers changed (for tests).
func (e *Event) WithHeader(name, value string) *Event {
	e.headers = append(e.headers, Header{name, value})
	return e
}

// ID is the gateway's message id (msg_...), stable across retries and
// replays: use it as an idempotency key in anything you derive.
func (e *Event) ID() string { return e.id }

// Source is the name of the source the event was posted to.
func (e *Event) Source() string { return e.source }

// ReceivedAt is when the gateway durably accepted the event, in
// milliseconds since the Unix epoch.
func (e *Event) ReceivedAt() uint64 { return e.receivedAt }

// EventType is the event type, for example "call.completed".
func (e *Event) EventType() string { return e.eventType }

// SetEventType rewrites the event type.
func (e *Event) SetEventType(eventType string) {
	e.eventType = eventType
	e.changed.EventType = true
}

// Body is the raw body.
func (e *Event) Body() []byte { return e.body }

// SetBody replaces the body.
func (e *Event) SetBody(body []byte) {
	e.body = body
	e.changed.Body = true
}

// Text is the body as a string.
func (e *Event) Text() string { return string(e.body) }

// Headers are every header in order, repeated names kept (a copy).
func (e *Event) Headers() []Header { return append([]Header(nil), e.headers...) }

// Header is the first value of a header, matched case-insensitively.
func (e *Event) Header(name string) (string, bool) {
	for _, h := range e.headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// HeaderAll is every value of a header, in order.
func (e *Event) HeaderAll(name string) []string {
	var values []string
	for _, h := range e.headers {
		if strings.EqualFold(h.Name, name) {
			values = append(values, h.Value)
		}
	}
	return values
}

// SetHeader sets a header, replacing every value it had.
func (e *Event) SetHeader(name, value string) {
	e.headers = append(e.without(name), Header{name, value})
	e.changed.Headers = true
}

// AppendHeader adds a header value, keeping the values it had.
func (e *Event) AppendHeader(name, value string) {
	e.headers = append(e.headers, Header{name, value})
	e.changed.Headers = true
}

// RemoveHeader removes every value of a header.
func (e *Event) RemoveHeader(name string) {
	kept := e.without(name)
	if len(kept) != len(e.headers) {
		e.headers = kept
		e.changed.Headers = true
	}
}

func (e *Event) without(name string) []Header {
	kept := make([]Header, 0, len(e.headers)+1)
	for _, h := range e.headers {
		if !strings.EqualFold(h.Name, name) {
			kept = append(kept, h)
		}
	}
	return kept
}

// JSON decodes the body into v. Numbers decoded into an interface value are
// [json.Number], so nanosecond times and sizes keep every digit. A body
// that is not JSON is an [InvalidEvent] with the decoder's message.
func (e *Event) JSON(v any) error {
	if err := decodeJSON(e.body, v); err != nil {
		return InvalidEvent("body is not the expected JSON: %s", err)
	}
	return nil
}

// SetJSON replaces the body with v as compact JSON (no HTML escaping) and
// sets content-type: application/json.
func (e *Event) SetJSON(v any) error {
	body, err := EncodeJSON(v)
	if err != nil {
		return err
	}
	e.SetBody(body)
	e.SetHeader("content-type", "application/json")
	return nil
}

// Changed says which parts were rewritten.
func (e *Event) Changed() Changed { return e.changed }

func (*Event) outcome() {}

// String shows the event for test failures.
func (e *Event) String() string {
	body := e.body
	if len(body) > 200 {
		body = body[:200]
	}
	return fmt.Sprintf("Event{id: %q, type: %q, headers: %v, body: %q}", e.id, e.eventType, e.headers, body)
}

// EncodeJSON is v as compact JSON in UTF-8, without HTML escaping, the way
// the gateway's other SDKs write it; a value JSON cannot hold is [Failed].
func EncodeJSON(v any) ([]byte, error) {
	var out bytes.Buffer
	encoder := json.NewEncoder(&out)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(v); err != nil {
		return nil, Failed("cannot serialise the body as JSON: %s", err)
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

func decodeJSON(data []byte, v any) error {
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.UseNumber()
	if err := decoder.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if _, err := decoder.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("trailing data after the JSON value at offset %d", decoder.InputOffset())
	}
	return nil
}
