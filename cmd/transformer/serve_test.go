package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestTransformStatuses(t *testing.T) {
	s := startServer(t, nil, "-max-body-bytes", "2048", "-max-batch-events", "3")
	order := `{"type":"track","event":"Order Completed","userId":"u1","messageId":"m1","properties":{"total":10,"currency":"USD"}}`
	cases := []struct {
		name, path, ctype, body string
		status                  int
		errPart                 string
	}{
		{"ok inline", "/transform", "application/json", batchOf(order), 200, ""},
		{"ok named", "/transform?destination=demo", "application/json", `{"batch":[` + order + `]}`, 200, ""},
		{"ok charset", "/transform?destination=demo", "application/json; charset=utf-8", `{"batch":[]}`, 200, ""},
		{"empty batch", "/transform?destination=demo", "application/json", `{"batch":[]}`, 200, ""},
		{"malformed", "/transform?destination=demo", "application/json", `{"batch":[`, 400, "not valid JSON"},
		{"empty body", "/transform?destination=demo", "application/json", ``, 400, "empty"},
		{"not an object", "/transform?destination=demo", "application/json", `[1,2]`, 400, "JSON object"},
		{"batch not array", "/transform?destination=demo", "application/json", `{"batch":{}}`, 400, "batch"},
		{"no destination", "/transform", "application/json", `{"batch":[]}`, 400, "no destination"},
		{"unknown include", "/transform?destination=demo&include=nope", "application/json", `{"batch":[]}`, 400, "nope"},
		{"unknown destination", "/transform?destination=nope", "application/json", `{"batch":[]}`, 404, `"nope"`},
		{"invalid config", "/transform", "application/json", `{"destination":{"Config":{"pixelId":" "}},"batch":[]}`, 422, "pixelId is required"},
		{"invalid config key", "/transform", "application/json", `{"destination":{"Config":{"pixelId":"p","enableAliasCall":"yes"}},"batch":[]}`, 422, "enableAliasCall must be a boolean"},
		{"body too large", "/transform?destination=demo", "application/json", `{"batch":[` + strings.Repeat(" ", 3000) + `]}`, 413, "limit"},
		{"too many events", "/transform?destination=demo", "application/json", `{"batch":[{},{},{},{}]}`, 413, "4 events"},
		{"wrong content type", "/transform?destination=demo", "text/plain", `{"batch":[]}`, 415, "Content-Type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(http.MethodPost, c.path, c.ctype, []byte(c.body))
			if r.status != c.status {
				t.Fatalf("status %d, want %d; body %s", r.status, c.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if r.header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id in the response")
			}
			if c.status != 200 {
				var e struct{ Error string }
				if err := json.Unmarshal(r.body, &e); err != nil || !strings.Contains(e.Error, c.errPart) {
					t.Errorf("error body %s, want it to mention %q", r.body, c.errPart)
				}
			}
		})
	}
	t.Run("method not allowed", func(t *testing.T) {
		if r := s.do(http.MethodGet, "/transform", "", nil); r.status != 405 {
			t.Errorf("GET /transform: %d %s", r.status, r.body)
		}
	})
	t.Run("unknown route", func(t *testing.T) {
		if r := s.do(http.MethodGet, "/nope", "", nil); r.status != 404 || !json.Valid(r.body) {
			t.Errorf("GET /nope: %d %s", r.status, r.body)
		}
	})
	t.Run("request id honoured", func(t *testing.T) {
		r := s.do(http.MethodGet, "/health", "", nil, "X-Request-Id", "abc-123")
		if got := r.header.Get("X-Request-Id"); got != "abc-123" {
			t.Errorf("X-Request-Id %q", got)
		}
	})
}

func TestTransformResponse(t *testing.T) {
	s := startServer(t, nil)
	order := `{"type":"track","event":"Order Completed","userId":"u1","messageId":"m1","properties":{"total":10,"currency":"USD","order_id":"o 1"}}`
	r := s.post("/transform?include=beacons", batchOf(order, `{"type":"identify"}`, `{"type":"track","event":7}`))
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var resp struct {
		DestinationID string `json:"destinationId"`
		PixelID       string `json:"pixelId"`
		Results       []struct {
			Index      int
			Status     string
			StatusCode int
			Calls      []struct {
				Command string
				Params  map[string]any
				Beacon  string
			}
		}
		Summary map[string]int
	}
	if err := json.Unmarshal(r.body, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.DestinationID != "inline" || resp.PixelID != "p1" || len(resp.Results) != 3 {
		t.Fatalf("response %s", r.body)
	}
	want := map[string]int{"events": 3, "ok": 1, "filtered": 1, "failed": 1, "calls": 2}
	for k, v := range want {
		if resp.Summary[k] != v {
			t.Errorf("summary %s = %d, want %d", k, resp.Summary[k], v)
		}
	}
	calls := resp.Results[0].Calls
	if len(calls) != 2 || calls[0].Command != "alias" || calls[1].Command != "purchase" {
		t.Fatalf("calls %+v", calls)
	}
	if calls[0].Beacon != "" {
		t.Error("alias call has a beacon")
	}
	b := calls[1].Beacon
	if !strings.HasPrefix(b, "https://img.byspotify.com/?key=p1&a=purchase&value=10&currency=USD&order_id=o%201&alias=") {
		t.Errorf("beacon %s", b)
	}
	if resp.Results[1].StatusCode != 298 || resp.Results[2].StatusCode != 400 {
		t.Errorf("statuses %+v", resp.Results)
	}
}

func TestBatchOfThousandInOrder(t *testing.T) {
	s := startServer(t, nil)
	events := make([]string, 1000)
	for i := range events {
		switch i % 4 {
		case 0:
			events[i] = fmt.Sprintf(`{"type":"page","messageId":"m%d","properties":{"n":%d}}`, i, i)
		case 1:
			events[i] = fmt.Sprintf(`{"type":"track","event":"Product Viewed","messageId":"m%d","properties":{"price":%d}}`, i, i)
		case 2:
			events[i] = fmt.Sprintf(`{"type":"identify","messageId":"m%d"}`, i)
		default:
			events[i] = fmt.Sprintf(`{"type":"track","messageId":"m%d"}`, i)
		}
	}
	r := s.post("/transform", batchOf(events...))
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var resp struct {
		Results []struct {
			Index     int
			MessageID string `json:"messageId"`
			Status    string
		}
	}
	if err := json.Unmarshal(r.body, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 1000 {
		t.Fatalf("%d results", len(resp.Results))
	}
	wantStatus := []string{"ok", "ok", "filtered", "error"}
	for i, res := range resp.Results {
		if res.Index != i || res.MessageID != fmt.Sprintf("m%d", i) || res.Status != wantStatus[i%4] {
			t.Fatalf("result %d: %+v", i, res)
		}
	}
}

func TestAuth(t *testing.T) {
	s := startServer(t, map[string]string{"TRANSFORMER_AUTH_TOKEN": "s3cret"})
	body := `{"batch":[]}`
	for _, c := range []struct {
		hdr    []string
		status int
	}{
		{nil, 401},
		{[]string{"Authorization", "Bearer wrong"}, 401},
		{[]string{"Authorization", "s3cret"}, 401},
		{[]string{"Authorization", "Bearer s3cret"}, 200},
	} {
		r := s.post("/transform?destination=demo", body, c.hdr...)
		if r.status != c.status {
			t.Errorf("%v: %d %s, want %d", c.hdr, r.status, r.body, c.status)
		}
		if r.status == 401 && r.header.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
	}
	for _, path := range []string{"/health", "/ready", "/metrics"} {
		if r := s.do(http.MethodGet, path, "", nil); r.status != 200 {
			t.Errorf("%s with auth on: %d", path, r.status)
		}
	}
	if strings.Contains(s.logs.String(), "s3cret") {
		t.Error("the token appears in the logs")
	}
}

func TestMetricsChange(t *testing.T) {
	s := startServer(t, nil)
	before := s.metrics()
	s.post("/transform", batchOf(
		`{"type":"track","event":"Order Completed","userId":"u","properties":{"total":1}}`,
		`{"type":"page"}`, `{"type":"identify"}`, `{"type":"track","event":1}`))
	s.post("/transform?destination=nope", `{"batch":[]}`)
	after := s.metrics()
	checks := []struct {
		name   string
		labels map[string]string
		delta  float64
	}{
		{"spotify_transformer_http_requests_total", map[string]string{"route": "/transform", "method": "POST", "code": "200"}, 1},
		{"spotify_transformer_http_requests_total", map[string]string{"route": "/transform", "method": "POST", "code": "404"}, 1},
		{"spotify_transformer_http_request_duration_seconds", map[string]string{"route": "/transform"}, 2},
		{"spotify_transformer_events_total", map[string]string{"type": "track", "outcome": "ok"}, 1},
		{"spotify_transformer_events_total", map[string]string{"type": "page", "outcome": "ok"}, 1},
		{"spotify_transformer_events_total", map[string]string{"type": "other", "outcome": "filtered"}, 1},
		{"spotify_transformer_events_total", map[string]string{"type": "track", "outcome": "error"}, 1},
		{"spotify_transformer_calls_total", map[string]string{"command": "purchase"}, 1},
		{"spotify_transformer_calls_total", map[string]string{"command": "alias"}, 1},
		{"spotify_transformer_calls_total", map[string]string{"command": "view"}, 1},
		{"spotify_transformer_batch_size_events", nil, 1},
	}
	for _, c := range checks {
		if d := metricValue(after, c.name, c.labels) - metricValue(before, c.name, c.labels); d != c.delta {
			t.Errorf("%s%v changed by %v, want %v", c.name, c.labels, d, c.delta)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "spotify_transformer_config_generation_info"} {
		if _, ok := after[name]; !ok {
			t.Errorf("metric %s missing", name)
		}
	}
	if metricValue(after, "spotify_transformer_http_requests_total", map[string]string{"route": "/transform?destination=nope"}) != 0 {
		t.Error("a raw path became a label")
	}
}

func TestSeparateMetricsListener(t *testing.T) {
	s := startServer(t, nil, "-metrics-listen", "127.0.0.1:0")
	if s.metricsURL == s.url {
		t.Fatal("metrics address not logged")
	}
	if r := s.do(http.MethodGet, "/metrics", "", nil); r.status != 404 {
		t.Errorf("/metrics on the main listener: %d", r.status)
	}
	if _, ok := s.metrics()["spotify_transformer_http_requests_total"]; !ok {
		t.Error("no request metrics on the metrics listener")
	}
	if resp, err := http.Get(s.metricsURL + "/debug/pprof/"); err != nil || resp.StatusCode != 404 {
		t.Errorf("pprof served without -pprof: %v %v", err, resp.Status)
	}
}

func TestPprofOnMetricsListener(t *testing.T) {
	s := startServer(t, nil, "-metrics-listen", "127.0.0.1:0", "-pprof")
	resp, err := http.Get(s.metricsURL + "/debug/pprof/cmdline")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("pprof: %v %v", err, resp)
	}
	if r := s.do(http.MethodGet, "/debug/pprof/cmdline", "", nil); r.status != 404 {
		t.Errorf("pprof on the public listener: %d", r.status)
	}
	if _, err := parseServeConfig([]string{"-pprof"}, func(string) string { return "" }, &bytes.Buffer{}); err == nil {
		t.Error("-pprof without -metrics-listen accepted")
	}
}

func TestLogsHoldNoPersonalData(t *testing.T) {
	s := startServer(t, nil, "-log-level", "debug")
	ev := `{"type":"track","event":"Order Completed","userId":"user-secret-4711","anonymousId":"anon-secret-99",
		"context":{"ip":"203.0.113.77","traits":{"email":"jane.secret@example.com","userId":"user-secret-4711"}},
		"request_ip":"198.51.100.23","properties":{"total":5,"email":"jane.secret@example.com"}}`
	s.post("/transform?include=beacons", batchOf(ev), "X-Forwarded-For", "192.0.2.55")
	s.post("/transform", `{"destination":{"Config":{"pixelId":"p"}},"batch":[{"type":"track","event":"x","userId":"user-secret-4711"}`)
	logs := s.logs.String()
	if len(logLines(logs, "request")) < 2 {
		t.Fatalf("no request log lines:\n%s", logs)
	}
	for _, secret := range []string{"user-secret-4711", "anon-secret-99", "jane.secret", "203.0.113.77", "198.51.100.23", "192.0.2.55"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
	l := logLines(logs, "request")[0]
	for _, k := range []string{"request_id", "route", "status", "duration", "events", "ok", "filtered", "failed", "calls"} {
		if _, ok := l[k]; !ok {
			t.Errorf("request log line lacks %q: %v", k, l)
		}
	}
}

// writeInPlace rewrites path without a rename, as an editor saving over the
// file does, so a watcher can see it half-written.
func writeInPlace(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Error(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "destinations.yaml")
	writeFile(t, path, "d1:\n  Config:\n    pixelId: first\n")
	s := startServer(t, nil, "-destinations", path)
	pixel := func(id string) (int, string) {
		r := s.post("/transform?destination="+id, `{"batch":[]}`)
		var resp struct{ PixelID string }
		unmarshal(t, r.body, &resp)
		return r.status, resp.PixelID
	}
	reloads := func(result string) float64 {
		return metricValue(s.metrics(), "spotify_transformer_config_reloads_total", map[string]string{"result": result})
	}
	if st, p := pixel("d1"); st != 200 || p != "first" {
		t.Fatalf("d1: %d %q", st, p)
	}
	if st, _ := pixel("demo"); st != 404 {
		t.Errorf("demo served although a file is configured: %d", st)
	}

	// A file change is picked up.
	writeFile(t, path, `{"d1":{"Config":{"pixelId":"second"}},"d2":{"Config":{"pixelId":"other"}}}`)
	eventually(t, "reload on file change", func() bool { _, p := pixel("d1"); return p == "second" })
	if st, p := pixel("d2"); st != 200 || p != "other" {
		t.Errorf("d2 after reload: %d %q", st, p)
	}

	// A bad file keeps the last good config and is counted.
	failuresBefore := reloads("failure")
	writeFile(t, path, "d1:\n  Config:\n    enableAliasCall: true\n")
	eventually(t, "failed reload counted", func() bool { return reloads("failure") > failuresBefore })
	if _, p := pixel("d1"); p != "second" {
		t.Errorf("bad file replaced the config: pixel %q", p)
	}
	if !strings.Contains(s.logs.String(), "pixelId is required") {
		t.Error("the failed reload's reason is not logged")
	}

	// SIGHUP reloads too.
	successBefore := reloads("success")
	writeInPlace(t, path, "d1:\n  Config:\n    pixelId: third\n") // may also trigger the watcher
	eventually(t, "file settled", func() bool { _, p := pixel("d1"); return p == "third" })
	successMid := reloads("success")
	if successMid <= successBefore {
		t.Errorf("success counter did not move: %v → %v", successBefore, successMid)
	}
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	eventually(t, "SIGHUP reload", func() bool { return reloads("success") > successMid })
	if len(logLines(s.logs.String(), "config reloaded")) == 0 {
		t.Error("no reload log line")
	}
}

func TestBadDestinationsFileAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.json")
	writeFile(t, path, `{"shop":{"Config":{"pixelId":"p","eventFilteringOption":"sometimes"}}}`)
	err := run(t.Context(), []string{"serve", "-listen", "127.0.0.1:0", "-destinations", path}, func(string) string { return "" }, nil, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), `"shop"`) || !strings.Contains(err.Error(), "eventFilteringOption") {
		t.Fatalf("err = %v, want it to name the destination and the key", err)
	}
}

func TestBusyPortFailsAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	start := time.Now()
	err = run(t.Context(), []string{"serve", "-listen", ln.Addr().String()}, func(string) string { return "" }, nil, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "listening") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("a busy port did not fail at once")
	}
}

func TestEnvFallbackAndFlagsWin(t *testing.T) {
	cfg, err := parseServeConfig([]string{"-max-batch-events", "7"}, func(k string) string {
		return map[string]string{"TRANSFORMER_MAX_BATCH_EVENTS": "9", "TRANSFORMER_SHUTDOWN_GRACE": "3s", "TRANSFORMER_LOG_FORMAT": "console"}[k]
	}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxBatchEvents != 7 || cfg.ShutdownGrace != 3*time.Second || cfg.LogFormat != "console" || cfg.Listen != ":8080" {
		t.Errorf("config %+v", cfg)
	}
	for _, bad := range [][]string{{"-log-format", "xml"}, {"-beacon-url", "ftp://x"}, {"-max-body-bytes", "0"}, {"-nope"}} {
		if _, err := parseServeConfig(bad, func(string) string { return "" }, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestGracefulShutdown cancels run's context (SIGTERM in main) while a
// request is still sending its body: /ready turns 503 during the drain
// delay, the request completes, run returns nil.
func TestGracefulShutdown(t *testing.T) {
	s := startServer(t, nil, "-drain-delay", "500ms", "-shutdown-grace", "10s")
	body := []byte(batchOf(`{"type":"page","messageId":"slow"}`))
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /transform HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	conn.Write(body[:10])
	time.Sleep(50 * time.Millisecond)

	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()
	waitNotReady(t, s.url)
	conn.Write(body[10:])
	reply := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _ := conn.Read(reply)
	if !bytes.HasPrefix(reply[:n], []byte("HTTP/1.1 200")) || !bytes.Contains(reply[:n], []byte(`"slow"`)) {
		t.Errorf("in-flight request got %q", reply[:n])
	}
	if err := <-stopped; err != nil {
		t.Errorf("run returned %v", err)
	}
}

// TestSIGTERM runs the real binary (this test binary acting as main) and
// sends it a real SIGTERM.
func TestSIGTERM(t *testing.T) {
	cmd := exec.Command(os.Args[0], "serve", "-listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "TRANSFORMER_TEST_MAIN=1")
	addr, logs := startChild(t, cmd)
	if err := runHealthcheck(t.Context(), []string{"-addr", addr}, func(string) string { return "" }); err != nil {
		t.Fatalf("healthcheck: %v", err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, logs)
	}
	if len(logLines(logs.String(), "stopped")) != 1 {
		t.Errorf("no clean stop logged:\n%s", logs)
	}
	if err := runHealthcheck(t.Context(), []string{"-addr", addr, "-timeout", "500ms"}, func(string) string { return "" }); err == nil {
		t.Error("healthcheck passed against a stopped server")
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"version"}, func(string) string { return "" }, nil, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "transformer dev (commit unknown, go") {
		t.Errorf("version: %q", out.String())
	}
	if err := run(t.Context(), []string{"bogus"}, func(string) string { return "" }, nil, &out); err == nil || exitCode(err) != 2 {
		t.Errorf("unknown command: %v", err)
	}
}

// TestServeHelpTimeouts checks that serve -h gives each timeout flag one
// meaning and says which one bounds a request: -request-timeout the bodies
// of the parsed POST routes, -read-timeout everything else and the silence
// of an NDJSON stream.
func TestServeHelpTimeouts(t *testing.T) {
	var out bytes.Buffer
	_, err := parseServeConfig([]string{"-h"}, func(string) string { return "" }, &out)
	if err == nil {
		t.Fatal("serve -h: no error")
	}
	help := out.String()
	for _, want := range []string{
		"-read-timeout duration\n    \tread bound of a request -request-timeout does not cover",
		"longest wait for the next line of an NDJSON stream",
		"-request-timeout duration\n    \tfor POST bodies this service parses (not NDJSON): replaces -read-timeout",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("serve -h lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "whole request") {
		t.Errorf("serve -h still says -read-timeout bounds the whole request:\n%s", help)
	}
}
