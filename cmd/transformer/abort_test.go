package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestProxyAbortedCountedOnce runs the real program in front of an upstream
// that writes its headers and half its body, then closes the connection:
// the request must still show once in the access log (marked aborted) and
// once in http_requests_total.
func TestProxyAbortedCountedOnce(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/features" {
			io.WriteString(w, `{}`)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"half":`)
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(up.Close)
	s := startServer(t, nil, "-upstream-transformer", up.URL)
	req, err := http.NewRequest(http.MethodPost, s.url+"/v1/sources/shopify?writeKey=k", strings.NewReader(`[{}]`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "e2e-abort")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		if _, err = io.ReadAll(resp.Body); err == nil {
			t.Errorf("the half body read as whole")
		}
		resp.Body.Close()
	}
	eventually(t, "one aborted access log line", func() bool {
		n := 0
		for _, l := range logLines(s.logs.String(), "request") {
			if l["request_id"] == "e2e-abort" && l["aborted"] == true && l["status"] == float64(200) {
				n++
			}
		}
		return n == 1
	})
	for _, l := range logLines(s.logs.String(), "request") {
		if l["request_id"] == "e2e-abort" && l["aborted"] != true {
			t.Errorf("a second, unmarked line: %v", l)
		}
	}
	got := metricValue(s.metrics(), "spotify_transformer_http_requests_total",
		map[string]string{"route": "/{version}/sources/{source}", "method": "POST", "code": "200"})
	if got != 1 {
		t.Errorf("http_requests_total for the aborted request: %v, want 1", got)
	}
}
