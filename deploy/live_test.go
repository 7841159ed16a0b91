package deploy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// dashboardFile is the generated Grafana dashboard (deploy/grafana).
	dashboardFile = "grafana/transformer.json"
	// rulesFile holds the recording rules; rulesTestFile their unit tests.
	rulesFile     = "prometheus/rules.yml"
	rulesTestFile = "prometheus/rules_test.yml"
	// liveDestination is a destination of destinations.example.yaml.
	liveDestination = "shop-web"
)

// liveServer is the real binary in sidecar mode with a stub upstream, so
// that the pass-through metrics have series.
type liveServer struct {
	t                 *testing.T
	api, metrics      string // loopback host:port of the two listeners
	client            *http.Client
	cancel            context.CancelFunc
	exited            chan error
	logPath           string
	upstreamAborts    string // processor path the stub upstream drops
	upstreamAnswersOK string // processor path the stub upstream answers 200
}

// startLiveServer builds ../cmd/transformer and serves the example
// destinations on loopback with -upstream-transformer pointing at a stub.
func startLiveServer(t *testing.T) *liveServer {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := buildTransformer(t, root)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/broken") {
			panic(http.ErrAbortHandler) // the connection drops: an upstream error
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "[]")
	}))
	t.Cleanup(up.Close)
	ports := freePorts(t, 2)
	s := &liveServer{
		t: t, client: &http.Client{Timeout: 10 * time.Second}, exited: make(chan error, 1),
		api: "127.0.0.1:" + strconv.Itoa(ports[0]), metrics: "127.0.0.1:" + strconv.Itoa(ports[1]),
		logPath:           filepath.Join(t.TempDir(), "serve.log"),
		upstreamAborts:    "/v0/destinations/broken",
		upstreamAnswersOK: "/v0/destinations/ga4",
	}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logFile.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	cmd := exec.CommandContext(ctx, bin, "serve", "-listen="+s.api, "-metrics-listen="+s.metrics,
		"-destinations=destinations.example.yaml", "-upstream-transformer="+up.URL)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		if err := <-s.exited; err != nil {
			t.Logf("transformer stopped: %v", err) // killed by cancel: expected
		}
	})
	s.waitReady()
	return s
}

// waitReady polls /ready until it answers 200, failing fast if the server exits.
func (s *liveServer) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-s.exited:
			s.exited <- err
			s.t.Fatalf("transformer serve exited before it was ready: %v\n%s", err, s.log())
		default:
		}
		if resp, err := s.client.Get("http://" + s.api + "/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("/ready did not answer 200 within 20s\n%s", s.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// log is the server's output so far.
func (s *liveServer) log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// post sends body to path on the API listener and returns the status code.
func (s *liveServer) post(path, body string) int {
	s.t.Helper()
	resp, err := s.client.Post("http://"+s.api+path, "application/json", strings.NewReader(body))
	if err != nil {
		s.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// drive sends one round of traffic: a batch with ok, filtered and error
// events, a malformed batch, a pass-through the upstream answers and one it
// drops, and a GET of /health. It checks each status class.
func (s *liveServer) drive() {
	s.t.Helper()
	batch := `{"batch":[
 {"type":"track","event":"Order Completed","messageId":"m1","userId":"u1","properties":{"order_id":"o1","revenue":10,"currency":"USD"}},
 {"type":"page","messageId":"m2","anonymousId":"a1","properties":{"url":"https://shop.example/"}},
 {"type":"identify","messageId":"m3","userId":"u1"},
 {"type":"track","messageId":"m4","userId":"u1"}]}`
	want := []struct {
		path, body string
		class      int
	}{
		{"/transform?destination=" + liveDestination, batch, 2},
		{"/transform?destination=" + liveDestination, `{"batch":[`, 4},
		{s.upstreamAnswersOK, `[]`, 2},
		{s.upstreamAborts, `[]`, 5},
	}
	for _, w := range want {
		if code := s.post(w.path, w.body); code/100 != w.class {
			s.t.Fatalf("POST %s = %d, want %dxx\n%s", w.path, code, w.class, s.log())
		}
	}
	if resp, err := s.client.Get("http://" + s.api + "/health"); err == nil {
		resp.Body.Close()
	}
}

// scrape fetches /metrics from the metrics listener.
func (s *liveServer) scrape() []promSeries {
	s.t.Helper()
	resp, err := s.client.Get("http://" + s.metrics + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return parseExposition(string(b))
}

// dashboardExprs is every PromQL expression of the dashboard's panels.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var out []string
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			out = append(out, q.Expr)
		}
	}
	return out
}

// TestDashboardQueriesExist runs the real binary, drives traffic and checks
// that every metric a dashboard panel queries is on /metrics with the label
// values the query selects (the job and instance matchers are Prometheus'
// target labels and are left out).
func TestDashboardQueriesExist(t *testing.T) {
	exprs := dashboardExprs(t)
	if len(exprs) == 0 {
		t.Fatalf("%s has no queries", dashboardFile)
	}
	s := startLiveServer(t)
	s.drive()
	series := s.scrape()
	for _, expr := range exprs {
		sels := selectors(expr)
		if len(sels) == 0 {
			t.Errorf("dashboard query %q selects no metric", expr)
		}
		for _, sel := range sels {
			var kept []matcher
			for _, mt := range sel.matchers {
				if mt.name != "job" && mt.name != "instance" {
					kept = append(kept, mt)
				}
			}
			sel.matchers = kept
			found := false
			for _, ser := range series {
				found = found || sel.matches(ser)
			}
			if !found {
				t.Errorf("dashboard query %q: no series %s%v on /metrics", expr, sel.metric, sel.matchers)
			}
		}
	}
}

// TestPromtoolRuleTests runs promtool test rules on the rule unit tests.
func TestPromtoolRuleTests(t *testing.T) {
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (scripts/install-prometheus.sh installs it): rule unit tests not run")
	}
	if out, err := exec.Command(p, "test", "rules", rulesTestFile).CombinedOutput(); err != nil {
		t.Errorf("promtool test rules %s: %v\n%s", rulesTestFile, err, out)
	}
}
