package router

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"spotifypixel/internal/destinations"
	"spotifypixel/internal/metrics"
	"spotifypixel/internal/spotify"
)

// handlerModes are the requests FuzzHandler sends a body as, by mode % 5.
var handlerModes = []struct{ path, contentType string }{
	{"/transform?destination=demo", "application/json"},
	{"/transform", ""}, // the destination comes from the body
	{"/transform?destination=shop&include=beacons", "application/json; charset=utf-8"},
	{"/transform?destination=demo&include=beacons", "application/x-ndjson"},
	{"/transform?destination=shop&include=beacons,capi", "application/json"},
}

// documented are the statuses POST /transform may answer (README, API).
var documented = map[int]bool{200: true, 400: true, 404: true, 413: true, 415: true, 422: true}

const fuzzShop = `shop:
  Config:
    pixelId: shop-pixel
    enableAliasCall: true
    eventFilteringOption: whitelistedEvents
    whitelistedEvents: [{eventName: Order Completed}, {eventName: Product Added}, {eventName: Lead}]
    eventsToSpotifyPixelEvents: [{from: Lead, to: lead}, {from: Lead, to: nope}]
    oneTrustCookieCategories: [{oneTrustCookieCategory: C0004}]
demo:
  Config:
    pixelId: demo-pixel
`

// FuzzHandler sends whole bodies through the real router (New, with its
// middleware and a real destinations store) and checks: no panic (a 500),
// a status from the documented set, valid JSON out, and for a 200 exactly
// one result per event, in order (each echoes its event's messageId).
func FuzzHandler(f *testing.F) {
	for _, s := range badInputSeeds(f) {
		f.Add(s.mode, s.body)
	}
	f.Add(uint8(0), []byte(`{"batch":[{"type":"track","event":"Order Completed","messageId":"a","properties":{"total":1}},{"type":"page","messageId":"b"}]}`))
	f.Add(uint8(1), []byte(`{"destination":{"ID":"d","Config":{"pixelId":"p","enableAliasCall":true}},"batch":[{"type":"page","messageId":1}]}`))
	f.Add(uint8(3), []byte("{\"type\":\"page\",\"messageId\":\"a\"}\n\n[1]\n{\"type\":\"track\"}"))
	path := filepath.Join(f.TempDir(), "destinations.yaml")
	if err := os.WriteFile(path, []byte(fuzzShop), 0o644); err != nil {
		f.Fatal(err)
	}
	store, err := destinations.NewStore(path)
	if err != nil {
		f.Fatal(err)
	}
	var ready atomic.Bool
	ready.Store(true)
	h := New(Deps{Store: store, Metrics: metrics.New(prometheus.NewRegistry()), Logger: zap.NewNop(),
		Ready: &ready, MaxBodyBytes: 64 << 10, MaxBatchEvents: 50, StreamTimeout: 0})
	f.Fuzz(func(t *testing.T, mode uint8, body []byte) {
		m := handlerModes[int(mode)%len(handlerModes)]
		req := httptest.NewRequest(http.MethodPost, m.path, bytes.NewReader(body))
		if m.contentType != "" {
			req.Header.Set("Content-Type", m.contentType)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !documented[rec.Code] {
			t.Fatalf("status %d is not documented: %s", rec.Code, rec.Body)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Fatal("no X-Content-Type-Options: nosniff")
		}
		switch {
		case rec.Code != 200:
			checkFuzzError(t, rec)
		case strings.HasPrefix(m.contentType, "application/x-ndjson"):
			checkFuzzStream(t, body, rec.Body.Bytes())
		default:
			checkFuzzBatch(t, body, rec)
		}
	})
}

func checkFuzzError(t *testing.T, rec *httptest.ResponseRecorder) {
	var e struct{ Error string }
	if rec.Header().Get("Content-Type") != "application/json" || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
		t.Fatalf("%d with a body that is not a JSON error: %q", rec.Code, rec.Body)
	}
}

// fuzzResponse is a 200 answer of /transform, as the invariants read it.
type fuzzResponse struct {
	Results []json.RawMessage
	Summary struct{ Events, OK, Filtered, Failed, Calls int }
}

func checkFuzzBatch(t *testing.T, body []byte, rec *httptest.ResponseRecorder) {
	if rec.Header().Get("Content-Type") != "application/json" || !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("200 that is not JSON: %q", rec.Body)
	}
	var resp fuzzResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("response: %v", err)
	}
	var events []gjson.Result
	// Read as JSON.parse reads it: a repeated key's last occurrence wins.
	text := spotify.Canonical(string(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))))
	gjson.Get(text, "batch").ForEach(func(_, v gjson.Result) bool {
		events = append(events, v)
		return true
	})
	s := resp.Summary
	if len(resp.Results) != len(events) || s.Events != len(events) || s.OK+s.Filtered+s.Failed != s.Events {
		t.Fatalf("%d events, %d results, summary %+v", len(events), len(resp.Results), s)
	}
	for i, raw := range resp.Results {
		checkFuzzResult(t, i, raw, events[i])
	}
}

// checkFuzzResult checks one result: its index, a known status with its
// code, and the event's messageId echoed (when it is a plain UTF-8 string).
func checkFuzzResult(t *testing.T, i int, raw json.RawMessage, event gjson.Result) {
	var r struct {
		Index      int
		MessageID  json.RawMessage `json:"messageId"`
		Status     string
		StatusCode int
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("result %d: %v", i, err)
	}
	codes := map[string]int{"ok": 200, "filtered": 298, "error": 400}
	if r.Index != i || codes[r.Status] == 0 || codes[r.Status] != r.StatusCode {
		t.Fatalf("result %d out of order or unknown: %s", i, raw)
	}
	if !event.IsObject() {
		return
	}
	var mid gjson.Result
	event.ForEach(func(k, v gjson.Result) bool { // the first messageId, as the engine reads it
		if k.Str == "messageId" {
			mid = v
			return false
		}
		return true
	})
	// An empty messageId comes back null (the engine reads "" as absent).
	if mid.Type == gjson.String && mid.Str != "" && utf8.ValidString(mid.Raw) && !strings.Contains(mid.Raw, `\`) {
		if string(r.MessageID) != mid.Raw {
			t.Fatalf("result %d echoes messageId %s, the event has %s", i, r.MessageID, mid.Raw)
		}
	}
}

// checkFuzzStream: one valid JSON line per non-blank input line, in order,
// then a summary (or an error) line.
func checkFuzzStream(t *testing.T, body, out []byte) {
	want := 0
	for _, line := range bytes.Split(body, []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 {
			want++
		}
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<30)
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("stream line is not JSON: %q", sc.Bytes())
		}
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	if len(lines) != want+1 || !gjson.GetBytes(lines[want], "summary").Exists() {
		t.Fatalf("%d input lines gave %d output lines, last %q", want, len(lines), lines[len(lines)-1])
	}
	for i, line := range lines[:want] {
		if idx := gjson.GetBytes(line, "index"); idx.Int() != int64(i) || idx.Type != gjson.Number {
			t.Fatalf("stream result %d has index %s", i, idx.Raw)
		}
	}
}

// fuzzSeed is one seed of FuzzHandler.
type fuzzSeed struct {
	name string
	mode uint8
	body []byte
}

// badInputSeeds turns every case of testdata/badinput into a seed: its body
// as written (generated bodies stay templates, which are small), sent in the
// mode that matches its Content-Type.
func badInputSeeds(tb testing.TB) []fuzzSeed {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "badinput", "*.case"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no bad-input cases: %v", err)
	}
	var seeds []fuzzSeed
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		head, body, _ := bytes.Cut(raw, []byte("\n\n"))
		mode := uint8(0)
		switch {
		case bytes.Contains(head, []byte("content-type: application/x-ndjson")):
			mode = 3
		case bytes.Contains(head, []byte("path: /transform\n")):
			mode = 1
		}
		seeds = append(seeds, fuzzSeed{strings.TrimSuffix(filepath.Base(file), ".case"), mode, body})
	}
	return seeds
}
