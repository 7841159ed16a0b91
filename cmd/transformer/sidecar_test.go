package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/testkit"
	"spotifypixel/internal/testkit/corpus"
)

// upstreamRecord is what the stand-in rudder-transformer received.
type upstreamRecord struct {
	method, target string
	header         http.Header
	body           []byte
}

// fakeTransformer stands in for rudder-transformer: it records every
// request and answers /features with its own document and everything else
// with a recognisable reply.
func fakeTransformer(t *testing.T) (*httptest.Server, func() []upstreamRecord) {
	t.Helper()
	var mu sync.Mutex
	var seen []upstreamRecord
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, upstreamRecord{r.Method, r.RequestURI, r.Header.Clone(), body})
		mu.Unlock()
		if r.URL.Path == "/features" {
			io.WriteString(w, `{"routerTransform":{"GA4":true},"regulations":["AM"],"supportSourceTransformV1":true,`+
				`"upgradedToSourceTransformV2":true,"supportDestTransformCompactedPayloadV1":true,"supportTransformerProxyV1":true}`)
			return
		}
		w.Header().Set("apiVersion", "2")
		w.Header().Set("X-Upstream", "rudder-transformer")
		w.WriteHeader(http.StatusOK)
		w.Write(append([]byte(`{"from":"upstream","got":`), append(body, '}')...))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []upstreamRecord {
		mu.Lock()
		defer mu.Unlock()
		out := []upstreamRecord{}
		for _, s := range seen {
			if s.target != "/features" {
				out = append(out, s)
			}
		}
		return out
	}
}

// TestSidecarEndToEnd runs the real program with TRANSFORMER_UPSTREAM_URL in
// front of a stand-in rudder-transformer, as rudder-server would use it.
func TestSidecarEndToEnd(t *testing.T) {
	up, received := fakeTransformer(t)
	s := startServer(t, map[string]string{"TRANSFORMER_UPSTREAM_URL": up.URL})
	if l := logLines(s.logs.String(), "listening"); len(l) != 1 || l[0]["upstream"] != up.URL {
		t.Errorf("listening line: %v", l)
	}
	hdr := []string{"X-Feature-Filter-Code", "?1", "X-Feature-Gzip-Support", "?1", "X-Request-Id", "e2e-ga4"}

	// Another destination's processor request: through, unchanged both ways.
	ga4 := `[{"message":{"type":"track","event":"x"},"metadata":{"jobId":1,"newKey":{"ratio":2.50}},"destination":{"Config":{}}}]`
	r := s.do(http.MethodPost, "/v0/destinations/ga4?q=1", "application/json", []byte(ga4), hdr...)
	if r.status != 200 || r.header.Get("X-Upstream") != "rudder-transformer" || r.header.Get("apiVersion") != "2" ||
		string(r.body) != `{"from":"upstream","got":`+ga4+`}` {
		t.Fatalf("ga4: %d %v %s", r.status, r.header, r.body)
	}
	got := received()
	if len(got) != 1 || got[0].method != "POST" || got[0].target != "/v0/destinations/ga4?q=1" || string(got[0].body) != ga4 ||
		got[0].header.Get("X-Feature-Filter-Code") != "?1" || got[0].header.Get("X-Request-Id") != "e2e-ga4" {
		t.Fatalf("upstream received %+v", got)
	}

	// Another destType at the router, gzip: the exact compressed bytes.
	router := testkit.Gzip([]byte(`{"input":[],"destType":"GA4"}`))
	r = s.do(http.MethodPost, "/routerTransform", "application/json", router, "Content-Encoding", "gzip")
	if got := received(); r.status != 200 || len(got) != 2 || !bytes.Equal(got[1].body, router) || got[1].header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("router for GA4: %d %s, upstream received %d", r.status, r.body, len(got))
	}

	// Spotify Pixel, gzip both ways: answered here, never proxied.
	body := rudderProcessorBody(corpus.Events(3, 200), string(corpus.Config()))
	r = s.do(http.MethodPost, "/v0/destinations/spotify_pixel", "application/json", testkit.Gzip([]byte(body)),
		"Content-Encoding", "gzip", "Accept-Encoding", "gzip", "X-Feature-Filter-Code", "?1")
	if r.status != 200 || r.header.Get("apiVersion") != "2" || r.header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("spotify_pixel: %d %v", r.status, r.header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(zr)
	if n := len(gjson.ParseBytes(reply).Array()); n < 200 {
		t.Errorf("%d entries for 200 events", n)
	}
	r = s.post("/routerTransform", `{"input":`+rudderProcessorBody(corpus.Events(4, 5), string(corpus.Config()))+`,"destType":"spotify_pixel"}`)
	if r.status != 200 || r.header.Get("apiVersion") != "2" || len(gjson.GetBytes(r.body, "output").Array()) != 5 {
		t.Fatalf("spotify_pixel router: %d %s", r.status, r.body)
	}
	if n := len(received()); n != 2 {
		t.Errorf("upstream received %d requests, want 2 (none of Spotify Pixel's)", n)
	}

	// /features: the upstream's, with Spotify Pixel merged in.
	r = s.do(http.MethodGet, "/features", "", nil)
	f := gjson.ParseBytes(r.body)
	if r.status != 200 || !f.Get("routerTransform.GA4").Bool() || !f.Get("routerTransform.SPOTIFY_PIXEL").Bool() ||
		!f.Get("supportTransformerProxyV1").Bool() || !f.Get("supportSourceTransformV1").Bool() {
		t.Errorf("features: %d %s", r.status, r.body)
	}

	fams := s.metrics()
	for route, want := range map[string]float64{"/v0/destinations/{destination}": 1, "/routerTransform": 1} {
		if got := metricValue(fams, "spotify_transformer_proxy_requests_total", map[string]string{"route": route, "code": "200"}); got != want {
			t.Errorf("proxy_requests_total{route=%q} = %v, want %v", route, got, want)
		}
	}
	if got := metricValue(fams, "spotify_transformer_proxy_request_duration_seconds", nil); got != 2 {
		t.Errorf("proxy durations observed: %v", got)
	}
	eventually(t, "the access log line of the proxied request", func() bool {
		for _, l := range logLines(s.logs.String(), "request") {
			if l["request_id"] == "e2e-ga4" {
				return l["route"] == "/v0/destinations/{destination}" && l["status"] == float64(200)
			}
		}
		return false
	})
}

// deadUpstream is the URL of a loopback port that nothing listens on: an
// upstream that refuses every connection.
func deadUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "http://" + ln.Addr().String()
}

func TestSidecarUpstreamDownEndToEnd(t *testing.T) {
	s := startServer(t, nil, "-upstream-transformer", deadUpstream(t))
	r := s.post("/v1/sources/shopify?writeKey=k", `[{}]`, "X-Request-Id", "e2e-down")
	if r.status != 502 || !strings.Contains(gjson.GetBytes(r.body, "error").Str, "upstream transformer") {
		t.Errorf("upstream down: %d %s", r.status, r.body)
	}
	r = s.do(http.MethodGet, "/features", "", nil)
	if f := gjson.ParseBytes(r.body); r.status != 200 || !f.Get("supportSourceTransformV1").Bool() || !f.Get("upgradedToSourceTransformV2").Bool() {
		t.Errorf("features with the upstream down: %d %s", r.status, r.body)
	}
	fams := s.metrics()
	if got := metricValue(fams, "spotify_transformer_proxy_upstream_errors_total", map[string]string{"route": "/{version}/sources/{source}", "reason": "unreachable"}); got != 1 {
		t.Errorf("upstream errors: %v", got)
	}
	eventually(t, "the error log lines", func() bool {
		logs := s.logs.String()
		for _, l := range logLines(logs, "request") {
			if l["request_id"] == "e2e-down" {
				return l["status"] == float64(502) && strings.Contains(l["error"].(string), "unreachable") &&
					len(logLines(logs, "upstream /features failed; answering without it until it answers")) == 1
			}
		}
		return false
	})
}

func TestUpstreamFlagValidation(t *testing.T) {
	for _, bad := range []string{"rudder-transformer:9090", "ftp://x", "http://", "http://u:p@host", "http://host/?a=1"} {
		err := run(t.Context(), []string{"serve", "-listen", "127.0.0.1:0", "-upstream-transformer", bad}, func(string) string { return "" }, nil, &syncBuffer{})
		var u usageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), "-upstream-transformer") {
			t.Errorf("%q: %v, want a usage error", bad, err)
		}
	}
	cfg, err := parseServeConfig(nil, func(k string) string {
		return map[string]string{"TRANSFORMER_UPSTREAM_URL": "http://rudder-transformer:9090"}[k]
	}, &bytes.Buffer{})
	if err != nil || cfg.UpstreamURL != "http://rudder-transformer:9090" {
		t.Errorf("from the environment: %+v %v", cfg.UpstreamURL, err)
	}
}
