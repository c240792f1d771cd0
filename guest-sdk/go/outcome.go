package hookgate

import "encoding/json"

// Outcome is what a handler decides: the [*Event] itself to pass it on,
// or a [*DropOutcome], [*DeliverOutcome] or [*RespondOutcome].
type Outcome interface{ outcome() }

// DropOutcome delivers nothing; the reason is recorded with the event.
type DropOutcome struct{ Reason string }

// Drop drops the event; the reason is formatted as by [fmt.Sprintf].
func Drop(format string, args ...any) *DropOutcome { return &DropOutcome{sprintf(format, args)} }

// Target is one delivery chosen by a plugin.
type Target struct {
	// Endpoint is the name of a configured endpoint.
	Endpoint string
	// Body is what to send; nil sends the event's body.
	Body []byte
	// Headers are extra headers for this delivery.
	Headers []Header
}

// To is a delivery of the event's own body to the endpoint named.
func To(endpoint string) Target { return Target{Endpoint: endpoint} }

// WithBody is this delivery with its own body.
func (t Target) WithBody(body []byte) Target { t.Body = body; return t }

// WithHeader is this delivery with one more header.
func (t Target) WithHeader(name, value string) Target {
	t.Headers = append(append([]Header(nil), t.Headers...), Header{name, value})
	return t
}

// WithJSON is this delivery with v as its JSON body and content-type set.
func (t Target) WithJSON(v any) (Target, error) {
	body, err := EncodeJSON(v)
	if err != nil {
		return t, err
	}
	return t.WithBody(body).WithHeader("content-type", "application/json"), nil
}

// DeliverOutcome delivers to exactly these endpoints and ends the chain.
type DeliverOutcome struct{ Targets []Target }

// Deliver delivers to exactly these targets; none delivers nowhere.
func Deliver(targets ...Target) *DeliverOutcome { return &DeliverOutcome{targets} }

// DeliverTo delivers the event's own body to the endpoints named.
func DeliverTo(endpoints ...string) *DeliverOutcome {
	targets := make([]Target, len(endpoints))
	for i, name := range endpoints {
		targets[i] = To(name)
	}
	return &DeliverOutcome{targets}
}

// RespondOutcome answers the caller and delivers nothing. On a source with
// mode = "sync" it is the caller's answer; elsewhere it is recorded with
// the event.
type RespondOutcome struct {
	Status  uint16
	Headers []Header
	Body    []byte
}

// Respond answers the caller with status, this body and these headers (the
// gateway adds content-type: application/json when none is given).
func Respond(status uint16, body []byte, headers ...Header) *RespondOutcome {
	return &RespondOutcome{status, headers, body}
}

// RespondJSON answers the caller with status and v as a JSON body.
func RespondJSON(status uint16, v any) (*RespondOutcome, error) {
	body, err := EncodeJSON(v)
	if err != nil {
		return nil, err
	}
	return Respond(status, body, Header{"content-type", "application/json"}), nil
}

// JSON decodes the response body into v, for tests.
func (r *RespondOutcome) JSON(v any) error { return json.Unmarshal(r.Body, v) }

func (*DropOutcome) outcome()    {}
func (*DeliverOutcome) outcome() {}
func (*RespondOutcome) outcome() {}
