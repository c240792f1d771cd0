package hookgate_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	hookgate "github.com/hookgate/hookgate/guest-sdk/go"
	"github.com/hookgate/hookgate/guest-sdk/go/hookgatetest"
)

func TestHeadersMatchCaseInsensitivelyAndKeepRepeats(t *testing.T) {
	event := hookgate.NewEvent("t", []byte("{}")).WithHeader("X-A", "1").WithHeader("x-a", "2")
	if value, _ := event.Header("x-A"); value != "1" {
		t.Fatalf("first value: %q", value)
	}
	if all := event.HeaderAll("X-A"); !reflect.DeepEqual(all, []string{"1", "2"}) {
		t.Fatalf("every value: %q", all)
	}
	if _, found := event.Header("missing"); found {
		t.Fatal("a missing header was found")
	}
	if event.Changed() != (hookgate.Changed{}) {
		t.Fatalf("building the event changed it: %+v", event.Changed())
	}
}

func TestSetHeaderReplacesEveryValueAndMarksOnlyHeadersChanged(t *testing.T) {
	event := hookgate.NewEvent("t", []byte("{}")).WithHeader("X-A", "1").WithHeader("x-a", "2")
	event.SetHeader("X-a", "3")
	if all := event.HeaderAll("x-a"); !reflect.DeepEqual(all, []string{"3"}) {
		t.Fatalf("values after set: %q", all)
	}
	if event.Changed() != (hookgate.Changed{Headers: true}) {
		t.Fatalf("changed: %+v", event.Changed())
	}
}

func TestRemovingAnAbsentHeaderChangesNothing(t *testing.T) {
	event := hookgate.NewEvent("t", nil).WithHeader("a", "1")
	event.RemoveHeader("b")
	if event.Changed() != (hookgate.Changed{}) {
		t.Fatalf("changed: %+v", event.Changed())
	}
	event.RemoveHeader("A")
	if len(event.Headers()) != 0 || !event.Changed().Headers {
		t.Fatalf("after removing: %v %+v", event.Headers(), event.Changed())
	}
}

func TestSetJSONWritesCompactUTF8WithoutHTMLEscapesAndTheContentType(t *testing.T) {
	event := hookgate.NewEvent("t", nil)
	if err := event.SetJSON(map[string]any{"a": 1, "name": "José <x>"}); err != nil {
		t.Fatal(err)
	}
	if got := event.Text(); got != `{"a":1,"name":"José <x>"}` {
		t.Fatalf("body: %s", got)
	}
	if value, _ := event.Header("Content-Type"); value != "application/json" {
		t.Fatalf("content-type: %q", value)
	}
	if event.Changed() != (hookgate.Changed{Headers: true, Body: true}) {
		t.Fatalf("changed: %+v", event.Changed())
	}
}

func TestABodyThatIsNotJSONIsAnInvalidEventGivingTheReason(t *testing.T) {
	for body, reason := range map[string]string{
		`{"a": 1`:   "unexpected EOF",
		`{"a": 1}x`: "trailing data after the JSON value",
		"":          "unexpected EOF",
	} {
		var value any
		err := hookgate.NewEvent("t", []byte(body)).JSON(&value)
		var pe *hookgate.PluginError
		if !errors.As(err, &pe) || pe.Kind != hookgate.KindInvalidEvent {
			t.Fatalf("%q: %v", body, err)
		}
		if !strings.HasPrefix(pe.Message, "body is not the expected JSON: ") || !strings.Contains(pe.Message, reason) {
			t.Fatalf("%q: %s", body, pe.Message)
		}
	}
}

func TestJSONKeepsEveryDigitOfALargeInteger(t *testing.T) {
	var value map[string]any
	if err := hookgate.NewEvent("t", []byte(`{"ns": 1705314780123456789}`)).JSON(&value); err != nil {
		t.Fatal(err)
	}
	if got := value["ns"].(interface{ String() string }).String(); got != "1705314780123456789" {
		t.Fatalf("ns: %s", got)
	}
}

func TestEventTypePatterns(t *testing.T) {
	for _, c := range []struct {
		pattern, eventType string
		want               bool
	}{
		{"call.*", "call.analysis.completed", true},
		{"*.completed", "batch.completed", true},
		{"call.*.completed", "call.analysis.completed", true},
		{"call.*.failed", "call.analysis.completed", false},
		{"*", "", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "acb", false},
		{"call.completed", "call.completed.v2", false},
	} {
		if got := hookgate.EventTypeMatches(c.pattern, c.eventType); got != c.want {
			t.Errorf("%q against %q: %v", c.pattern, c.eventType, got)
		}
	}
}

func TestConfigHelpersReadTheTestHostsConfiguration(t *testing.T) {
	host := hookgatetest.New().
		WithConfig("types", " call.*, ,batch.completed ").
		WithConfig("limit", " 7 ").
		WithConfig("ratio", "1e400")
	run := host.Run(func(event *hookgate.Event) (hookgate.Outcome, error) {
		if _, set := hookgate.Config.Get("missing"); set {
			t.Error("a missing key is set")
		}
		if got := hookgate.Config.List("types"); !reflect.DeepEqual(got, []string{"call.*", "batch.completed"}) {
			t.Errorf("list: %q", got)
		}
		if limit, set, err := hookgate.Config.Int("limit"); limit != 7 || !set || err != nil {
			t.Errorf("int: %v %v %v", limit, set, err)
		}
		if ratio, _, err := hookgate.Config.Float("ratio"); ratio < 1e308 || err != nil {
			t.Errorf("a float past the range is infinite, as in Rust: %v %v", ratio, err)
		}
		want := [][2]string{{"limit", " 7 "}, {"ratio", "1e400"}, {"types", " call.*, ,batch.completed "}}
		if got := hookgate.Config.Entries(); !reflect.DeepEqual(got, want) {
			t.Errorf("entries: %q", got)
		}
		if _, err := hookgate.Config.Require("absent"); err == nil || err.Error() != "invalid_config: config key `absent` is not set" {
			t.Errorf("require: %v", err)
		}
		_, _, err := hookgate.Config.Float("types")
		if err == nil || !strings.HasPrefix(err.(*hookgate.PluginError).Message, "config key `types` has bad value \" call") {
			t.Errorf("float of a list: %v", err)
		}
		return event, nil
	}, hookgate.NewEvent("t", nil))
	if run.Err != nil {
		t.Fatal(run.Err)
	}
}

func TestFloatRefusesWhatRustRefuses(t *testing.T) {
	for _, raw := range []string{"0x1p3", "1_000", "a minute", ""} {
		run := hookgatetest.New().WithConfig("n", raw).Run(func(*hookgate.Event) (hookgate.Outcome, error) {
			_, _, err := hookgate.Config.Float("n")
			return nil, err
		}, hookgate.NewEvent("t", nil))
		if run.Err == nil || run.Err.Kind != hookgate.KindInvalidConfig {
			t.Errorf("%q: %+v", raw, run)
		}
	}
}

func TestOutcomesAndLogsAreWhatTheHandlerMade(t *testing.T) {
	host := hookgatetest.New().
		WithEndpoint(hookgate.Endpoint{Name: "crm", Tags: []string{"team:sales"}}).
		WithEndpoint(hookgate.Endpoint{Name: "audit"})
	run := host.Run(func(event *hookgate.Event) (hookgate.Outcome, error) {
		hookgate.Log.Info("routing %s", event.ID())
		var names []string
		for _, e := range hookgate.Endpoints() {
			names = append(names, e.Name)
		}
		hookgate.Log.Debug("endpoints %s", strings.Join(names, ","))
		crm, err := hookgate.To("crm").WithJSON(map[string]int{"n": 1})
		if err != nil {
			return nil, err
		}
		return hookgate.Deliver(crm, hookgate.To("audit").WithHeader("x-k", "v")), nil
	}, hookgate.NewEvent("t", nil))
	deliver, ok := run.Outcome.(*hookgate.DeliverOutcome)
	if !ok || len(deliver.Targets) != 2 || string(deliver.Targets[0].Body) != `{"n":1}` || deliver.Targets[1].Body != nil {
		t.Fatalf("outcome: %#v", run.Outcome)
	}
	want := []hookgatetest.Line{{Level: "info", Message: "routing msg_test"}, {Level: "debug", Message: "endpoints audit,crm"}}
	if !reflect.DeepEqual(run.Logs, want) {
		t.Fatalf("logs: %+v", run.Logs)
	}
}

func TestAnyOtherErrorIsReportedAsFailedWithItsText(t *testing.T) {
	run := hookgatetest.New().Run(func(*hookgate.Event) (hookgate.Outcome, error) {
		return nil, errors.New("the disk is made of cheese")
	}, hookgate.NewEvent("t", nil))
	if run.Err == nil || *run.Err != (hookgate.PluginError{Kind: hookgate.KindFailed, Message: "the disk is made of cheese"}) {
		t.Fatalf("%+v", run.Err)
	}
}

func TestReturningNothingPanicsSayingWhatToReturn(t *testing.T) {
	defer func() {
		if message, _ := recover().(string); !strings.Contains(message, "return the event to pass it on") {
			t.Fatalf("panic: %q", message)
		}
	}()
	hookgatetest.New().Run(func(*hookgate.Event) (hookgate.Outcome, error) {
		var none *hookgate.DropOutcome
		return none, nil
	}, hookgate.NewEvent("t", nil))
	t.Fatal("no panic")
}

func TestRespondJSONSetsTheContentType(t *testing.T) {
	respond, err := hookgate.RespondJSON(200, map[string]bool{"ok": true})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]bool
	if respond.Status != 200 || respond.JSON(&body) != nil || !body["ok"] ||
		!reflect.DeepEqual(respond.Headers, []hookgate.Header{{Name: "content-type", Value: "application/json"}}) {
		t.Fatalf("%+v", respond)
	}
}
