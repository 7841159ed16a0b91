package capi

import (
	"encoding/json"
	"testing"
	"time"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// TestVisitorFirstUsableWins: within each list the first usable value is
// taken, unusable ones (wrong type, empty, unhashable) are passed over.
func TestVisitorFirstUsableWins(t *testing.T) {
	src := Sources{
		Emails:  [3]string{`42`, `"  "`, `"A@Example.com"`},
		Phones:  [2]string{`{"n":1}`, `4915123456789`},
		IPs:     [2]string{`""`, `"[2001:db8::1]:443"`},
		Device:  `{"id":"dev-2","advertisingId":""}`,
		Times:   [3]string{`null`, `"2026-02-01T10:00:00Z"`, `"2026-01-01T00:00:00Z"`},
		PageURL: `"ftp://example.com/"`,
	}
	var v Visitor
	if ok, reason := v.Read(&src, now); !ok {
		t.Fatalf("not identified: %s", reason)
	}
	if v.email == "" || v.phone == "" || v.ip != "2001:db8::1" || v.device != "dev-2" || !v.app || v.url != "" {
		t.Fatalf("visitor %+v", v)
	}
	if want := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC); !v.when.Equal(want) {
		t.Fatalf("when %v, want %v", v.when, want)
	}
	if ok, reason := v.Read(&Sources{IPs: [2]string{`"  "`}, Channel: `"mobile"`}, now); ok || reason != ReasonNoIdentifier {
		t.Fatalf("blank IP identified the visitor: %v %q", ok, reason)
	}
}

// TestEventTime: a future or unreadable time is now; milliseconds count as
// JavaScript's Date counts them.
func TestEventTime(t *testing.T) {
	for raw, want := range map[string]time.Time{
		`"2999-01-01T00:00:00Z"`: now,
		`"yesterday"`:            now,
		`true`:                   now,
		`1700000000000`:          time.UnixMilli(1700000000000).UTC(),
		`" 2026-01-02 "`:         time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
	} {
		if got := eventTime([3]string{"", raw}, now); !got.Equal(want) {
			t.Errorf("%s: %v, want %v", raw, got, want)
		}
	}
}

// TestAppendEvent: the call's params become event_id, amount, currency and
// content_name; a call without an event_id has no event.
func TestAppendEvent(t *testing.T) {
	var v Visitor
	v.Read(&Sources{IPs: [2]string{`"1.2.3.4:80"`}, PageURL: `"https://shop.example/p"`}, now)
	out, ok := AppendEvent(nil, &Call{Name: "PURCHASE", EventID: `7`, Value: `" 12.50 "`, Currency: `"EUR"`, ProductName: `""`}, &v)
	if !ok {
		t.Fatal("no event")
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	want := `{"event_name":"PURCHASE","event_id":"7","event_time":"2026-03-01T12:00:00.000Z","user_data":{"ip_address":"1.2.3.4"},"event_details":{"amount":12.5,"currency":"EUR"},"event_source_url":"https://shop.example/p","action_source":"WEB"}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	for _, id := range []string{``, `""`, `null`, `{"a":1}`} {
		if out, ok := AppendEvent(nil, &Call{Name: "LEAD", EventID: id}, &v); ok || len(out) != 0 {
			t.Errorf("event_id %s made an event: %s", id, out)
		}
	}
}

// TestAmount: only numbers and decimal strings, as JavaScript's Number
// reads them, are amounts.
func TestAmount(t *testing.T) {
	for raw, want := range map[string]string{`3`: "3", `"5."`: "5", `".5"`: "0.5", `"1e3"`: "1000", `"0x10"`: "", `"1_000"`: "", `"Inf"`: "", `"1e999"`: "", `true`: "", `""`: ""} {
		got, ok := amountOf(raw)
		if got != want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", raw, got, ok, want)
		}
	}
}

// TestEnvelopes: events are split into bodies of at most batchSize, in order.
func TestEnvelopes(t *testing.T) {
	var a, b Events
	a.Add([]byte(`{"n":1}`))
	a.Add([]byte(`{"n":2}`))
	b.Add([]byte(`{"n":3}`))
	got := string(AppendEnvelopes(nil, "c", 2, &a, &b))
	want := `[{"conversion_events":{"capi_connection_id":"c","events":[{"n":1},{"n":2}]}},{"conversion_events":{"capi_connection_id":"c","events":[{"n":3}]}}]`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	a.Truncate(1)
	if a.Len() != 1 || string(a.AppendAll(nil)) != `{"n":1}` {
		t.Fatalf("after Truncate(1): %s", a.AppendAll(nil))
	}
}
