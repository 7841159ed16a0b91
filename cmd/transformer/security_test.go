package main

import (
	"bytes"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// Security tests of issue 6: no answer and no log line carries the token,
// another destination's pixel id or an event's personal data.

// TestNoRouteLeaksSecrets asks every route, with and without the token, for
// the right and the wrong destination, and requires that no answer carries
// the token, and that no answer carries a pixel id other than the one of
// the destination asked for.
func TestNoRouteLeaksSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.yaml")
	writeFile(t, path, "d1:\n  Config:\n    pixelId: pixel-of-d1\nd2:\n  Config:\n    pixelId: pixel-of-d2\n")
	const token = "tok-5ecret-0123456789"
	s := startServer(t, map[string]string{"TRANSFORMER_AUTH_TOKEN": token}, "-destinations", path)
	auth := []string{"Authorization", "Bearer " + token}
	page := `{"type":"page","messageId":"p"}`
	rudderBody := rudderProcessorBody([][]byte{[]byte(page)}, `{"pixelId":"inline-pixel"}`)
	type ask struct {
		method, path, ctype, body string
		hdr                       []string
		mayShow                   string // the one pixel id the answer may carry
	}
	asks := []ask{
		{"GET", "/health", "", "", nil, ""},
		{"GET", "/ready", "", "", nil, ""},
		{"GET", "/metrics", "", "", nil, ""},
		{"GET", "/features", "", "", nil, ""},
		{"GET", "/nope", "", "", nil, ""},
		{"GET", "/transform", "", "", nil, ""},
		{"POST", "/transform?destination=d1", "application/json", `{"batch":[` + page + `]}`, nil, ""},
		{"POST", "/transform?destination=d1", "application/json", `{"batch":[` + page + `]}`, []string{"Authorization", "Bearer tok-5ecret"}, ""},
		{"POST", "/transform?destination=d1&include=beacons", "application/json", `{"batch":[` + page + `]}`, auth, "pixel-of-d1"},
		{"POST", "/transform?destination=d1", "application/x-ndjson", page + "\n", auth, "pixel-of-d1"},
		{"POST", "/transform?destination=d3", "application/json", `{"batch":[]}`, auth, ""},
		{"POST", "/transform", "application/json", `{"destination":{"ID":"d2","Config":{"pixelId":"inline-pixel"}},"batch":[` + page + `]}`, auth, "inline-pixel"},
		{"POST", "/transform", "application/json", `{"destination":{"Config":{"pixelId":["x"]}},"batch":[]}`, auth, ""},
		{"POST", "/transform?destination=d1", "application/json", `{"batch":[`, auth, ""},
		{"POST", "/v0/destinations/spotify_pixel", "application/json", rudderBody, auth, "inline-pixel"},
		{"POST", "/v0/destinations/other", "application/json", rudderBody, auth, ""},
		{"POST", "/routerTransform", "application/json", `{"input":[],"destType":"spotify_pixel"}`, auth, ""},
	}
	pixels := []string{"pixel-of-d1", "pixel-of-d2", "inline-pixel"}
	for _, a := range asks {
		r := s.do(a.method, a.path, a.ctype, []byte(a.body), a.hdr...)
		var all bytes.Buffer
		r.header.Write(&all)
		all.Write(r.body)
		if strings.Contains(all.String(), "5ecret") {
			t.Errorf("%s %s: the token is in the answer", a.method, a.path)
		}
		for _, p := range pixels {
			if p != a.mayShow && strings.Contains(all.String(), p) {
				t.Errorf("%s %s (%d): pixel %q is in the answer: %.300s", a.method, a.path, r.status, p, r.body)
			}
		}
		if r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: no X-Content-Type-Options: nosniff", a.method, a.path)
		}
		if ct := r.header.Get("Content-Type"); a.path != "/metrics" && !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/x-ndjson") {
			t.Errorf("%s %s: Content-Type %q", a.method, a.path, ct)
		}
	}
	if strings.Contains(s.logs.String(), "5ecret") {
		t.Error("the token is in the logs")
	}
}

// TestLogsCarryNoEventData sends personal data down every path (ok, per
// event errors, request errors, streams, the RudderStack front) with debug
// logging on, and scans everything logged for the raw values.
func TestLogsCarryNoEventData(t *testing.T) {
	opts := leakOptions()
	s := startServer(t, nil, "-log-level", "debug")
	ev := `{"type":"track","event":"Order Completed","userId":"uid-raw-5151","anonymousId":"anon-raw-6262",` +
		`"context":{"ip":"203.0.113.91","traits":{"email":"mia.raw@example.org","phone":"+15550100999"}},` +
		`"properties":{"order_id":"order-raw-7373","total":5,"email":"mia.raw@example.org"}}`
	bad := strings.Replace(ev, `"type":"track"`, `"type":7`, 1)
	xff := []string{"X-Forwarded-For", "198.51.100.92", "User-Agent", "agent-raw-8484"}
	s.post("/transform?include=beacons", batchOf(ev, bad), xff...)
	s.post("/transform?destination=demo", `{"batch":[`+ev+`,`, xff...)           // malformed
	s.post("/transform?destination=demo", `{"batch":[`+ev+",\"\xff\"]}", xff...) // invalid UTF-8 neighbour
	s.do(http.MethodPost, "/transform?destination=demo", "application/x-ndjson", []byte(ev+"\n"+bad+"\n{"), xff...)
	s.post("/v0/destinations/spotify_pixel", rudderProcessorBody([][]byte{[]byte(ev)}, `{"pixelId":"p"}`), xff...)
	s.post("/transform?destination=demo", `{"batch":[{"type":"page","properties":{"x":`+strings.Repeat("[", 2000)+`}}, `+ev+`]}`, xff...)
	logs := s.logs.String()
	if len(logLines(logs, "request")) < 6 {
		t.Fatalf("too few request log lines:\n%s", logs)
	}
	for _, raw := range []string{"uid-raw-5151", "anon-raw-6262", "203.0.113.91", "mia.raw", "+15550100999", "order-raw-7373", "198.51.100.92", "agent-raw-8484", "Order Completed"} {
		if strings.Contains(logs, raw) {
			t.Errorf("logs contain %q", raw)
		}
	}
	stopAndCheckLeaks(t, s, opts)
}

// TestCallerIDsNeverLogged names a destination no one configured, an email
// here, in every place a caller can (the query of /transform and of an
// NDJSON stream, an inline destination ID, the RudderStack processor path,
// a router body's destType, an unknown path): the caller's answers may name
// it, but no log line does, and the access log shows "unknown" where a
// configured id would be; a configured id is logged as it is.
func TestCallerIDsNeverLogged(t *testing.T) {
	const who = "alice@example.com"
	s := startServer(t, nil)
	page := `{"type":"page","messageId":"p"}`
	bare := `{"batch":[` + page + `]}`
	asks := []struct {
		path, ctype, body string
		want              int
		logged            string // the access log's destination field
	}{
		{"/transform?destination=" + who, "application/json", bare, 404, "unknown"},
		{"/transform?destination=" + who, "application/x-ndjson", page + "\n", 404, "unknown"},
		{"/transform", "application/json", `{"destination":{"ID":"` + who + `"},"batch":[` + page + `]}`, 404, ""},
		{"/v0/destinations/" + who, "application/json", "[]", 404, ""},
		{"/routerTransform", "application/json", `{"input":[],"destType":"` + who + `"}`, 404, ""},
		{"/" + who, "application/json", "{}", 404, ""},
		{"/transform?destination=demo", "application/json", bare, 200, "demo"},
	}
	for _, a := range asks {
		if got := s.do(http.MethodPost, a.path, a.ctype, []byte(a.body)); got.status != a.want {
			t.Errorf("%s %s: status %d, want %d: %s", a.path, a.ctype, got.status, a.want, got.body)
		}
	}
	s.stop()
	logs := s.logs.String()
	if strings.Contains(logs, "alice") {
		t.Errorf("a log line carries the caller's id:\n%s", logs)
	}
	lines := logLines(logs, "request")
	if len(lines) != len(asks) {
		t.Fatalf("%d access log lines for %d requests:\n%s", len(lines), len(asks), logs)
	}
	for i, a := range asks {
		if got, _ := lines[i]["destination"].(string); got != a.logged {
			t.Errorf("%s: access log destination %q, want %q", a.path, got, a.logged)
		}
	}
}
