package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMain lets the test binary act as the real program, so that a test can
// run it as a child process and send it real signals.
func TestMain(m *testing.M) {
	if os.Getenv("TRANSFORMER_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// syncBuffer is a concurrency-safe log sink that tests can search.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is a running instance of the real program.
type server struct {
	t           *testing.T
	url         string
	metricsURL  string
	logs        *syncBuffer
	cancel      context.CancelFunc
	done        chan error
	stopOnClean bool
}

// startServer runs `transformer serve` through run() on a loopback port and
// waits until it logs its address.
func startServer(t *testing.T, env map[string]string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{t: t, logs: &syncBuffer{}, cancel: cancel, done: make(chan error, 1), stopOnClean: true}
	getenv := func(k string) string { return env[k] }
	full := append([]string{"serve", "-listen", "127.0.0.1:0"}, args...)
	go func() { s.done <- run(ctx, full, getenv, strings.NewReader(""), s.logs) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(s.logs.String(), "\n") {
			var raw map[string]any
			if json.Unmarshal([]byte(line), &raw) != nil || raw["msg"] != "listening" {
				continue
			}
			s.url = "http://" + raw["addr"].(string)
			s.metricsURL = s.url
			if m, ok := raw["metrics_addr"].(string); ok {
				s.metricsURL = "http://" + m
			}
			t.Cleanup(func() {
				if s.stopOnClean {
					s.stop()
				}
			})
			return s
		}
		select {
		case err := <-s.done:
			cancel()
			t.Fatalf("server exited before listening: %v\nlogs:\n%s", err, s.logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("server did not start; logs:\n%s", s.logs)
	return nil
}

// stop cancels the server's context (what SIGTERM does in main) and returns run's error.
func (s *server) stop() error {
	s.stopOnClean = false
	s.cancel()
	select {
	case err := <-s.done:
		return err
	case <-time.After(30 * time.Second):
		s.t.Fatal("server did not stop")
		return nil
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (s *server) do(method, path, contentType string, body []byte, hdr ...string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func (s *server) post(path string, body string, hdr ...string) response {
	return s.do(http.MethodPost, path, "application/json", []byte(body), hdr...)
}

// metrics scrapes and parses /metrics.
func (s *server) metrics() map[string]*dto.MetricFamily {
	s.t.Helper()
	resp, err := http.Get(s.metricsURL + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return fams
}

// metricValue returns the value of the series of name whose labels include want.
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	fam, ok := fams[name]
	if !ok {
		return 0
	}
	total := 0.0
	for _, m := range fam.Metric {
		match := true
		for k, v := range want {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total
}

// unmarshal decodes a response body the test goes on to read, failing the
// test when it is not JSON.
func unmarshal(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
}

// logLines returns the server's JSON log lines whose msg is msg.
func logLines(logs string, msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) == nil && l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// startChild starts cmd, a "serve" on 127.0.0.1:0, with its output
// captured, and returns the address it logs once it listens; the process is
// killed when the test ends if it has not exited.
func startChild(t *testing.T, cmd *exec.Cmd) (addr string, logs *syncBuffer) {
	t.Helper()
	logs = &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	eventually(t, "listening", func() bool { return len(logLines(logs.String(), "listening")) > 0 })
	return logLines(logs.String(), "listening")[0]["addr"].(string), logs
}

// waitNotReady waits for the server at base to answer /ready with 503, as
// it does once it drains.
func waitNotReady(t *testing.T, base string) {
	t.Helper()
	eventually(t, "/ready to turn 503", func() bool {
		resp, err := http.Get(base + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 503
	})
}

func batchOf(events ...string) string {
	return fmt.Sprintf(`{"destination":{"ID":"inline","Config":{"pixelId":"p1","enableAliasCall":true}},"batch":[%s]}`, strings.Join(events, ","))
}
