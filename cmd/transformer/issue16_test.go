package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Tests of issue 16: secrets in errors, on the command line and in pprof;
// hot reload of a file rewritten in place.

// childServe runs the real binary (the test binary as main) with args and
// env, and returns its main and metrics base URLs and its process id.
func childServe(t *testing.T, env []string, args ...string) (base, metrics string, pid int, logs *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "-listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), append(env, "TRANSFORMER_TEST_MAIN=1")...)
	addr, logs := startChild(t, cmd)
	metrics = "http://" + addr
	if m, ok := logLines(logs.String(), "listening")[0]["metrics_addr"].(string); ok {
		metrics = "http://" + m
	}
	return "http://" + addr, metrics, cmd.Process.Pid, logs
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPprofHidesToken: pprof is off by default (404 on the metrics
// listener); enabled, /debug/pprof/cmdline does not show -auth-token's value
// in either spelling.
func TestPprofHidesToken(t *testing.T) {
	const tok = "tok-CMDLINE-5150"
	_, metrics, _, _ := childServe(t, nil, "-metrics-listen", "127.0.0.1:0", "-auth-token", tok)
	if st, _ := get(t, metrics+"/debug/pprof/cmdline"); st != 404 {
		t.Errorf("pprof without -pprof: %d", st)
	}
	for _, args := range [][]string{{"-auth-token", tok}, {"--auth-token=" + tok}} {
		_, metrics, _, _ := childServe(t, nil, append([]string{"-metrics-listen", "127.0.0.1:0", "-pprof"}, args...)...)
		st, body := get(t, metrics+"/debug/pprof/cmdline")
		if st != 200 || strings.Contains(body, "CMDLINE") {
			t.Errorf("%v: cmdline %d %q", args, st, body)
		}
		if !strings.Contains(body, "-pprof") {
			t.Errorf("%v: cmdline lost the other arguments: %q", args, body)
		}
	}
}

// TestAuthTokenFile: the token read from -auth-token-file or
// TRANSFORMER_AUTH_TOKEN_FILE (one trailing newline dropped) guards
// /transform and is not in the process's command line (what ps shows).
func TestAuthTokenFile(t *testing.T) {
	const tok = "tok-FILE-8086"
	path := filepath.Join(t.TempDir(), "token")
	writeFile(t, path, tok+"\n")
	for _, c := range []struct {
		env  []string
		args []string
	}{
		{nil, []string{"-auth-token-file", path}},
		{[]string{"TRANSFORMER_AUTH_TOKEN_FILE=" + path}, nil},
	} {
		base, _, pid, _ := childServe(t, c.env, c.args...)
		cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(cmdline, []byte("FILE-8086")) {
			t.Errorf("the token is on the command line: %q", cmdline)
		}
		for hdr, want := range map[string]int{"": 401, "Bearer " + tok: 200, "Bearer " + tok + "\n": 401} {
			req, _ := http.NewRequest(http.MethodPost, base+"/transform?destination=demo", strings.NewReader(`{"batch":[]}`))
			req.Header.Set("Content-Type", "application/json")
			if hdr != "" {
				req.Header.Set("Authorization", strings.TrimSuffix(hdr, "\n"))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if hdr == "Bearer "+tok+"\n" {
				continue // net/http refuses a newline in a header; nothing to check
			}
			if resp.StatusCode != want {
				t.Errorf("%v %v: Authorization %q: %d, want %d", c.env, c.args, hdr, resp.StatusCode, want)
			}
		}
	}
	empty := filepath.Join(t.TempDir(), "empty")
	writeFile(t, empty, "\n")
	for _, args := range [][]string{
		{"-auth-token-file", empty},
		{"-auth-token-file", filepath.Join(t.TempDir(), "missing")},
		{"-auth-token-file", path, "-auth-token", "x"},
	} {
		err := run(t.Context(), append([]string{"serve", "-listen", "127.0.0.1:0"}, args...), func(string) string { return "" }, nil, &syncBuffer{})
		if err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// TestBadFileHidesToken: a destinations file that YAML cannot decode, with
// a CAPI token in it, fails the start and a reload without the token in the
// error or the logs.
func TestBadFileHidesToken(t *testing.T) {
	const tok = "tok-YAML-1984"
	bad := "d1:\n  Config:\n    pixelId: p\n    capiConnectionId: c\n    capiAccessToken: !!int " + tok + "\n"
	path := filepath.Join(t.TempDir(), "d.yaml")
	writeFile(t, path, bad)
	err := run(t.Context(), []string{"serve", "-listen", "127.0.0.1:0", "-destinations", path}, func(string) string { return "" }, nil, &syncBuffer{})
	if err == nil || strings.Contains(err.Error(), "YAML-1984") || !strings.Contains(err.Error(), "line 5") {
		t.Errorf("start error %v: want line 5 and no token", err)
	}
	writeFile(t, path, "d1:\n  Config:\n    pixelId: p\n")
	s := startServer(t, nil, "-destinations", path)
	writeFile(t, path, bad)
	// The bad file is written again once a second: under a loaded
	// race-detector run the first write can land before the watcher is
	// watching; any reload of it must fail without the token.
	tries := 0
	eventually(t, "failed reload logged", func() bool {
		tries++
		if tries%50 == 0 {
			writeFile(t, path, bad)
		}
		return strings.Contains(s.logs.String(), "config reload failed")
	})
	if strings.Contains(s.logs.String(), "YAML-1984") {
		t.Errorf("the token is in the logs:\n%s", s.logs)
	}
}

// TestReloadInPlaceTwoWrites rewrites the destinations file in place (one
// open, the first half written, a pause of five settle delays, the rest,
// close) while requests read the served config: it never becomes the half
// file, the whole one is taken after the close, and /metrics shows the
// failure counter and the last good load time; then a bad file is counted
// and leaves both the config and that time alone.
func TestReloadInPlaceTwoWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.yaml")
	writeFile(t, path, "d1:\n  Config:\n    pixelId: one\nd2:\n  Config:\n    pixelId: two-old\n")
	s := startServer(t, nil, "-destinations", path)
	pixels := func() string {
		var out []string
		for _, id := range []string{"d1", "d2"} {
			r := s.post("/transform?destination="+id, `{"batch":[]}`)
			var resp struct{ PixelID string }
			unmarshal(t, r.body, &resp)
			out = append(out, strconv.Itoa(r.status)+":"+resp.PixelID)
		}
		return strings.Join(out, " ")
	}
	value := func(name string) float64 { return metricValue(s.metrics(), name, nil) }
	const failures, lastGood = "spotify_transformer_config_reload_failures_total", "spotify_transformer_config_last_reload_success_timestamp_seconds"
	loaded := value(lastGood)
	time.Sleep(1100 * time.Millisecond) // the gauge counts whole seconds

	full := "d1:\n  Config:\n    pixelId: uno\nd2:\n  Config:\n    pixelId: two-new\n"
	half := strings.Index(full, "-new") // d2's pixelId "two": a valid document on its own
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(full[:half])
	seen := map[string]bool{}
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		seen[pixels()] = true
	}
	f.WriteString(full[half:])
	f.Close()
	eventually(t, "the whole file", func() bool { p := pixels(); seen[p] = true; return p == "200:uno 200:two-new" })
	// Each destination is read by its own request, so a reload between the
	// two can pair d1's old pixel with d2's new one; each must still be the
	// old or the new file's, never the half file's d2 "two".
	for p := range seen {
		d1, d2, _ := strings.Cut(p, " ")
		if (d1 != "200:one" && d1 != "200:uno") || (d2 != "200:two-old" && d2 != "200:two-new") {
			t.Errorf("served a config that is neither the old nor the new file: %s", p)
		}
	}
	if _, ok := s.metrics()[failures]; !ok {
		t.Fatalf("%s is not exposed", failures)
	}
	if v := value(failures); v != 0 {
		t.Errorf("%s = %v after a good rewrite", failures, v)
	}
	good := value(lastGood)
	if good <= loaded {
		t.Errorf("%s did not move on the reload: %v → %v", lastGood, loaded, good)
	}
	if !strings.Contains(s.logs.String(), "reload deferred") {
		t.Error("the deferred reload is not logged")
	}

	writeInPlace(t, path, "d1:\n  Config:\n    pixelId: [\n")
	eventually(t, "failure counted", func() bool { return value(failures) == 1 })
	if p := pixels(); p != "200:uno 200:two-new" {
		t.Errorf("a bad file replaced the config: %s", p)
	}
	if v := value(lastGood); v != good {
		t.Errorf("%s moved on a failed reload: %v → %v", lastGood, good, v)
	}
	if v := metricValue(s.metrics(), "spotify_transformer_config_reloads_total", map[string]string{"result": "failure"}); v != 1 {
		t.Errorf("config_reloads_total{result=failure} = %v", v)
	}
}
