package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/testkit"
	"spotifypixel/internal/testkit/corpus"
)

// rudderProcessorBody shapes events as rudder-server's processor sends them
// to /v0/destinations/spotify_pixel.
func rudderProcessorBody(events [][]byte, config string) string {
	dest := `{"ID":"2Pdst","Name":"Spotify Pixel","DestinationDefinition":{"ID":"2Pdef","Name":"SPOTIFY_PIXEL","DisplayName":"Spotify Pixel","Config":{}},` +
		`"Config":` + config + `,"Enabled":true,"WorkspaceID":"2Pws","Transformations":[]}`
	parts := make([]string, len(events))
	for i, ev := range events {
		parts[i] = fmt.Sprintf(`{"message":%s,"metadata":{"sourceId":"2Psrc","workspaceId":"2Pws","sourceType":"Javascript","sourceCategory":"",`+
			`"destinationId":"2Pdst","jobId":%d,"destinationType":"SPOTIFY_PIXEL","messageId":%s,"attemptNum":0,"newKey":{"ratio":2.50}},"destination":%s}`,
			ev, 5000+i, gjson.GetBytes(ev, "messageId").Raw, dest)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// TestRudderProcessorEndToEnd sends a realistic rudder-server processor
// request of 1,000 events, gzip both ways with the headers rudder-server
// sends, through the real program, and checks the reply (one or more
// entries per event, in order, metadata echoed byte for byte), the
// apiVersion header, the metrics and the access log.
func TestRudderProcessorEndToEnd(t *testing.T) {
	s := startServer(t, nil)
	events := corpus.Events(99, 1000)
	body := rudderProcessorBody(events, string(corpus.Config()))
	r := s.do(http.MethodPost, "/v0/destinations/spotify_pixel", "application/json", testkit.Gzip([]byte(body)),
		"Content-Encoding", "gzip", "Accept-Encoding", "gzip",
		"X-Feature-Filter-Code", "?1", "X-Feature-Gzip-Support", "?1", "X-Request-Id", "rudder-e2e")
	if r.status != 200 || r.header.Get("apiVersion") != "2" || r.header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("status %d, apiVersion %q, Content-Encoding %q: %s", r.status, r.header.Get("apiVersion"), r.header.Get("Content-Encoding"), r.body)
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	inputs := gjson.Parse(body).Array()
	entries := gjson.ParseBytes(reply).Array()
	next, ok, filtered := 0, 0, 0
	for i, in := range inputs {
		md := in.Get("metadata").Raw
		if next >= len(entries) || entries[next].Get("metadata").Raw != md {
			t.Fatalf("event %d has no entry in order (next entry %d)", i, next)
		}
		for next < len(entries) && entries[next].Get("metadata").Raw == md {
			switch entries[next].Get("statusCode").Int() {
			case 200:
				ok++
				if !entries[next].Get("output.params.a").Exists() {
					t.Fatalf("entry %d: %s", next, entries[next].Raw)
				}
			case 298:
				filtered++
			}
			next++
		}
	}
	if next != len(entries) {
		t.Fatalf("%d entries left over", len(entries)-next)
	}
	if ok == 0 || filtered == 0 {
		t.Errorf("%d delivered, %d filtered", ok, filtered)
	}
	fams := s.metrics()
	if got := metricValue(fams, "spotify_transformer_events_total", nil); got != 1000 {
		t.Errorf("events_total %v", got)
	}
	if got := metricValue(fams, "spotify_transformer_http_requests_total", map[string]string{"route": "/v0/destinations/{destination}", "code": "200"}); got != 1 {
		t.Errorf("requests_total for the route: %v", got)
	}
	eventually(t, "the access log line", func() bool {
		for _, l := range logLines(s.logs.String(), "request") {
			if l["request_id"] == "rudder-e2e" {
				return l["events"] == float64(1000) && l["route"] == "/v0/destinations/{destination}"
			}
		}
		return false
	})
}

func TestRudderRouterEndToEnd(t *testing.T) {
	s := startServer(t, nil)
	events := corpus.Events(5, 50)
	body := `{"input":` + rudderProcessorBody(events, string(corpus.Config())) + `,"destType":"spotify_pixel"}`
	r := s.post("/routerTransform", body)
	if r.status != 200 || r.header.Get("apiVersion") != "2" {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	out := gjson.GetBytes(r.body, "output").Array()
	if len(out) != len(events) {
		t.Fatalf("%d entries for %d events", len(out), len(events))
	}
	for i, e := range out {
		if e.Get("metadata.0.jobId").Int() != int64(5000+i) || e.Get("batched").Type != gjson.False {
			t.Fatalf("entry %d: %s", i, e.Raw)
		}
	}
}

func TestRudderAuthAndFeatures(t *testing.T) {
	s := startServer(t, nil, "-auth-token", "tok")
	body := rudderProcessorBody(corpus.Events(1, 2), `{"pixelId":"p"}`)
	if r := s.post("/v0/destinations/spotify_pixel", body); r.status != 401 {
		t.Errorf("no token: %d %s", r.status, r.body)
	}
	if r := s.post("/routerTransform", `{"input":[],"destType":"spotify_pixel"}`); r.status != 401 {
		t.Errorf("router without token: %d %s", r.status, r.body)
	}
	if r := s.post("/v0/destinations/spotify_pixel", body, "Authorization", "Bearer tok"); r.status != 200 {
		t.Errorf("with token: %d %s", r.status, r.body)
	}
	r := s.do(http.MethodGet, "/features", "", nil)
	if r.status != 200 || !gjson.GetBytes(r.body, "supportDestTransformCompactedPayloadV1").Bool() ||
		!gjson.GetBytes(r.body, "routerTransform.SPOTIFY_PIXEL").Bool() {
		t.Errorf("features: %d %s", r.status, r.body)
	}
	if r := s.post("/v0/destinations/ga4", "[]", "Authorization", "Bearer tok"); r.status != 404 ||
		gjson.GetBytes(r.body, "error").Str != "Unknown destination: ga4" {
		t.Errorf("unknown destination: %d %s", r.status, r.body)
	}
}
