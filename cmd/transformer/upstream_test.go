package main

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// Tests of issue 16, item 1: the limits of requests passed to the upstream
// rudder-transformer.

// hung is a rudder-transformer that reads every transform request and
// never answers it, until the test ends or the caller gives up; /features
// answers at once. It counts the requests it holds now and at most.
type hung struct {
	*httptest.Server
	now, peak atomic.Int64
}

func hungUpstream(t *testing.T) *hung {
	t.Helper()
	h := &hung{}
	release := make(chan struct{})
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/features" {
			_, _ = io.WriteString(w, `{}`)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		n := h.now.Add(1)
		defer h.now.Add(-1)
		for p := h.peak.Load(); n > p && !h.peak.CompareAndSwap(p, n); p = h.peak.Load() {
		}
		select {
		case <-r.Context().Done(): // the sidecar gave up and closed the connection
		case <-release:
		}
	}))
	t.Cleanup(h.Close)
	t.Cleanup(func() { close(release) }) // runs first: Close waits for the handlers
	return h
}

// boundedClient is a client of its own (so that its idle connections can
// be closed) whose requests give up after 20s: a hang fails the test, it
// does not stall it.
func boundedClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 200}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// call sends one request and reads the whole answer; err is the client's.
func call(c *http.Client, method, url, body string, hdr ...string) (response, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}, err
}

// accessLine returns the access log line of the request with id, or nil.
func accessLine(s *server, id string) map[string]any {
	for _, l := range logLines(s.logs.String(), "request") {
		if l["request_id"] == id {
			return l
		}
	}
	return nil
}

// TestUpstreamTimeouts: an upstream that never sends its headers is a 504
// once -upstream-response-header-timeout passes, and once -upstream-timeout
// passes when that comes first; both are {"error": ...}, counted as
// timeouts and logged with status and outcome.
func TestUpstreamTimeouts(t *testing.T) {
	up := hungUpstream(t)
	c := boundedClient(t)
	for _, tc := range []struct{ name, header, total string }{
		{"response-header", "200ms", "30s"},
		{"total", "30s", "200ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, nil, "-upstream-transformer", up.URL,
				"-upstream-response-header-timeout", tc.header, "-upstream-timeout", tc.total)
			r, err := call(c, http.MethodPost, s.url+"/v1/sources/shopify?writeKey=k", `[{}]`, "X-Request-Id", "hung-"+tc.name)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if r.status != 504 || r.header.Get("Content-Type") != "application/json" ||
				!strings.Contains(gjson.GetBytes(r.body, "error").Str, "did not answer (timeout)") {
				t.Fatalf("%d %v %s", r.status, r.header, r.body)
			}
			route := map[string]string{"route": "/{version}/sources/{source}"}
			fams := s.metrics()
			if n := metricValue(fams, "spotify_transformer_proxy_outcomes_total", map[string]string{"route": route["route"], "outcome": "timeout"}); n != 1 {
				t.Errorf("timeout outcomes: %v", n)
			}
			if n := metricValue(fams, "spotify_transformer_proxy_requests_total", map[string]string{"route": route["route"], "code": "504"}); n != 1 {
				t.Errorf("proxy_requests_total 504: %v", n)
			}
			if n := metricValue(fams, "spotify_transformer_proxy_request_duration_seconds", route); n != 1 {
				t.Errorf("durations observed: %v", n)
			}
			eventually(t, "the access log line", func() bool {
				l := accessLine(s, "hung-"+tc.name)
				return l != nil && l["status"] == float64(504) && l["outcome"] == "timeout"
			})
		})
	}
}

// TestUpstreamRefused: a port nothing listens on is a 502, counted and
// logged as unreachable.
func TestUpstreamRefused(t *testing.T) {
	s := startServer(t, nil, "-upstream-transformer", deadUpstream(t))
	r := s.post("/v0/destinations/ga4", `[{}]`, "X-Request-Id", "refused")
	if r.status != 502 || !strings.Contains(gjson.GetBytes(r.body, "error").Str, "did not answer (unreachable)") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if n := metricValue(s.metrics(), "spotify_transformer_proxy_outcomes_total", map[string]string{"outcome": "unreachable"}); n != 1 {
		t.Errorf("unreachable outcomes: %v", n)
	}
	eventually(t, "the access log line", func() bool {
		l := accessLine(s, "refused")
		return l != nil && l["status"] == float64(502) && l["outcome"] == "unreachable"
	})
}

// TestUpstreamBodyLimit: a body passed on is bounded by -max-body-bytes,
// declared (refused before the upstream sees it) or chunked (cut off as it
// is sent): 413 either way.
func TestUpstreamBodyLimit(t *testing.T) {
	up, received := fakeTransformer(t)
	s := startServer(t, nil, "-upstream-transformer", up.URL, "-max-body-bytes", "1024")
	big := `[{"x":"` + strings.Repeat("a", 4096) + `"}]`
	if r := s.post("/v1/sources/shopify", big, "X-Request-Id", "big"); r.status != 413 ||
		!strings.Contains(gjson.GetBytes(r.body, "error").Str, "limit of 1024") {
		t.Errorf("declared: %d %s", r.status, r.body)
	}
	if n := len(received()); n != 0 {
		t.Errorf("the upstream got %d requests over the limit", n)
	}
	req, _ := http.NewRequest(http.MethodPost, s.url+"/v1/sources/shopify", io.MultiReader(strings.NewReader(big))) // no length: chunked
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !strings.Contains(gjson.GetBytes(b, "error").Str, "limit of 1024") {
		t.Errorf("chunked: %d %s", resp.StatusCode, b)
	}
	if n := metricValue(s.metrics(), "spotify_transformer_proxy_outcomes_total", map[string]string{"outcome": "too_large"}); n != 2 {
		t.Errorf("too_large outcomes: %v", n)
	}
	if r := s.post("/v1/sources/shopify", `[{}]`); r.status != 200 {
		t.Errorf("within the limit: %d %s", r.status, r.body)
	}
}

// TestUpstreamHungSpotifyServes: while 100 requests hang on an upstream
// that never answers, the 101st passed-on request is refused with 503 and
// Retry-After (-upstream-max-inflight 100), the upstream never holds more
// than 100, Spotify Pixel's /transform keeps answering 200, and once the
// hung requests time out (504) the goroutines they held are gone.
func TestUpstreamHungSpotifyServes(t *testing.T) {
	const hold = 100
	up := hungUpstream(t)
	s := startServer(t, nil, "-upstream-transformer", up.URL,
		"-upstream-max-inflight", "100", "-upstream-response-header-timeout", "4s")
	c := boundedClient(t)
	baseline := runtime.NumGoroutine()

	var wg sync.WaitGroup
	statuses := make(chan int, hold)
	for i := range hold {
		wg.Go(func() {
			r, err := call(c, http.MethodPost, s.url+"/v0/destinations/ga4", `[{}]`)
			if err != nil {
				t.Errorf("hung request %d: %v", i, err)
				return
			}
			statuses <- r.status
		})
	}
	eventually(t, "100 requests held by the upstream", func() bool { return up.now.Load() == hold })

	r, err := call(c, http.MethodPost, s.url+"/v1/sources/shopify", `[{}]`, "X-Request-Id", "over")
	if err != nil || r.status != 503 || r.header.Get("Retry-After") == "" ||
		!strings.Contains(gjson.GetBytes(r.body, "error").Str, "limit") {
		t.Errorf("over the cap: %v %d %v %s", err, r.status, r.header, r.body)
	}
	batch := `{"batch":[{"type":"page","messageId":"m"},{"type":"track","event":"Order Completed","messageId":"n","properties":{"revenue":5}}]}`
	for i := range 20 {
		if r, err := call(c, http.MethodPost, s.url+"/transform?destination=demo", batch); err != nil || r.status != 200 {
			t.Fatalf("Spotify /transform %d while the upstream hangs: %v %d %s", i, err, r.status, r.body)
		}
	}
	fams := s.metrics()
	if n := metricValue(fams, "spotify_transformer_proxy_requests_in_flight", nil); n != hold {
		t.Errorf("proxy_requests_in_flight %v, want %d", n, hold)
	}
	if n := metricValue(fams, "spotify_transformer_http_requests_rejected_total", map[string]string{"reason": "upstream_in_flight_limit"}); n != 1 {
		t.Errorf("rejected: %v", n)
	}

	wg.Wait()
	close(statuses)
	n504 := 0
	for st := range statuses {
		if st == 504 {
			n504++
		}
	}
	if n504 != hold {
		t.Errorf("%d of %d hung requests answered 504", n504, hold)
	}
	if p := up.peak.Load(); p > hold {
		t.Errorf("the upstream held %d requests at once, more than the cap of %d", p, hold)
	}
	fams = s.metrics()
	for outcome, want := range map[string]float64{"timeout": hold, "overload": 1} {
		if n := metricValue(fams, "spotify_transformer_proxy_outcomes_total", map[string]string{"outcome": outcome}); n != want {
			t.Errorf("outcome %s: %v, want %v", outcome, n, want)
		}
	}
	if l := accessLine(s, "over"); l == nil || l["status"] != float64(503) || l["outcome"] != "overload" {
		t.Errorf("access log of the refused request: %v", l)
	}
	c.Transport.(*http.Transport).CloseIdleConnections()
	eventually(t, "the goroutines of the hung requests to end", func() bool {
		return runtime.NumGoroutine() <= baseline+10
	})
}

// TestUpstreamFlags: the limits come from flags or the environment, and
// bad values are usage errors.
func TestUpstreamFlags(t *testing.T) {
	cfg, err := parseServeConfig(nil, func(k string) string {
		return map[string]string{
			"TRANSFORMER_UPSTREAM_CONNECT_TIMEOUT":         "1s",
			"TRANSFORMER_UPSTREAM_RESPONSE_HEADER_TIMEOUT": "2s",
			"TRANSFORMER_UPSTREAM_TIMEOUT":                 "3s",
			"TRANSFORMER_UPSTREAM_MAX_INFLIGHT":            "7",
		}[k]
	}, &bytes.Buffer{})
	if err != nil || cfg.UpstreamConnectTimeout != time.Second || cfg.UpstreamHeaderTimeout != 2*time.Second ||
		cfg.UpstreamTimeout != 3*time.Second || cfg.UpstreamMaxInFlight != 7 {
		t.Errorf("from the environment: %+v %v", cfg, err)
	}
	cfg, err = parseServeConfig(nil, func(string) string { return "" }, &bytes.Buffer{})
	if err != nil || cfg.UpstreamConnectTimeout != 5*time.Second || cfg.UpstreamHeaderTimeout != 30*time.Second ||
		cfg.UpstreamTimeout != time.Minute || cfg.UpstreamMaxInFlight != 64 {
		t.Errorf("defaults: %+v %v", cfg, err)
	}
	for _, bad := range [][]string{{"-upstream-timeout", "0s"}, {"-upstream-connect-timeout", "-1s"},
		{"-upstream-response-header-timeout", "0s"}, {"-upstream-max-inflight", "-1"}} {
		_, err := parseServeConfig(bad, func(string) string { return "" }, &bytes.Buffer{})
		var u usageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v: %v, want a usage error naming it", bad, err)
		}
	}
}
