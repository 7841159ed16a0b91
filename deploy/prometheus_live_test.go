package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// TestRealPrometheusScrapes runs Debian's prometheus with the shipped
// prometheus.yml against the real binary on loopback: the job's pod
// discovery (kubernetes_sd_configs and the relabelling that selects pods)
// is replaced by a static target, the intervals are shortened to a second,
// and everything else (job name, path, scheme, the alert and recording rule
// files) is as shipped. After traffic, the Prometheus HTTP API must return
// the target up, a request rate per route, the error ratio and a recording
// rule's output.
func TestRealPrometheusScrapes(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed (scripts/install-prometheus.sh installs it): the live scrape test did not run")
	}
	s := startLiveServer(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, localScrapeConfig(t, s.metrics), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePorts(t, 1)[0]
	api := "http://127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithCancel(context.Background())
	logPath := filepath.Join(dir, "prometheus.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait() // killed by cancel
		_ = logFile.Close()
	})
	job := `job="spotify-pixel-transformer"`
	checks := []struct{ what, query string }{
		{"the target is up", `up{` + job + `} == 1`},
		{"a request rate for /transform", `sum by (route) (rate(spotify_transformer_http_requests_total{` + job + `, route="/transform"}[10s])) > 0`},
		{"the 5xx ratio", `sum(rate(spotify_transformer_http_requests_total{` + job + `, code=~"5.."}[10s])) / sum(rate(spotify_transformer_http_requests_total{` + job + `}[10s])) > 0`},
		{"the recording rule of requests by route and code", `route_code:spotify_transformer_http_requests:rate5m{` + job + `}`},
	}
	deadline := time.Now().Add(45 * time.Second)
	for _, c := range checks {
		for {
			s.drive()
			n, err := promQuery(api, c.query)
			if err == nil && n > 0 {
				break
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(logPath)
				t.Fatalf("%s: %s gave %d series (%v) within 45s\n%s", c.what, c.query, n, err, log)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

// localScrapeConfig is the shipped prometheus.yml with the scrape job's
// discovery replaced by target, one-second intervals and absolute rule files.
func localScrapeConfig(t *testing.T, target string) []byte {
	t.Helper()
	raw, err := os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["global"] = map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s"}
	rules, _ := cfg["rule_files"].([]any)
	for i, r := range rules {
		abs, err := filepath.Abs(filepath.Join("prometheus", fmt.Sprint(r)))
		if err != nil {
			t.Fatal(err)
		}
		rules[i] = abs
	}
	jobs, _ := cfg["scrape_configs"].([]any)
	if len(jobs) != 1 {
		t.Fatalf("prometheus.yml has %d scrape jobs, want 1", len(jobs))
	}
	j, _ := jobs[0].(map[string]any)
	delete(j, "kubernetes_sd_configs")
	delete(j, "relabel_configs")
	j["static_configs"] = []any{map[string]any{"targets": []any{target}}}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// promQuery runs an instant query and returns how many series it gave.
func promQuery(api, query string) (int, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(api + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, fmt.Errorf("decoding %s: %w", body, err)
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("query failed: %s", r.Error)
	}
	return len(r.Data.Result), nil
}
