package deploy

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// transformerServer is a `transformer serve` process that
// TestBinaryServesWhatTheManifestsSay runs, with what its checks need to
// reach it. Its methods report failures on t.
type transformerServer struct {
	t          *testing.T
	bin        string
	c          *corev1.Container
	byNumber   map[int32]string // container port -> local address
	client     *http.Client
	cmd        *exec.Cmd
	exited     chan error // receives the result of cmd.Wait
	running    bool       // the process has not been seen to exit
	logPath    string     // the process's stdout and stderr
	metricsURL string     // set by checkMetrics
}

// newTransformerServer prepares (does not start) the binary bin for the
// container c whose ports listen on the local addresses of byNumber.
func newTransformerServer(t *testing.T, bin string, c *corev1.Container, byNumber map[int32]string) *transformerServer {
	return &transformerServer{
		t:        t,
		bin:      bin,
		c:        c,
		byNumber: byNumber,
		client:   &http.Client{Timeout: 3 * time.Second},
	}
}

// addrOf is the local address that serves container port p, given by name
// or by number.
func (s *transformerServer) addrOf(p intstr.IntOrString) string {
	t := s.t
	t.Helper()
	num := p.IntVal
	if p.Type == intstr.String {
		cp, ok := containerPortsByName(s.c)[p.StrVal]
		if !ok {
			t.Fatalf("no container port named %q", p.StrVal)
		}
		num = cp.ContainerPort
	}
	a, ok := s.byNumber[num]
	if !ok {
		t.Fatalf("container port %d is bound by no listen flag", num)
	}
	return a
}

// start runs the binary with args and the env of serveEnv, its output going
// to logPath. Cleanup kills it if it is still running.
func (s *transformerServer) start(args []string, logPath string) {
	t := s.t
	t.Helper()
	env := serveEnv(s.c)
	s.logPath = logPath
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logFile.Close() })
	s.cmd = exec.Command(s.bin, args...)
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.exited = make(chan error, 1)
	cmd, exited := s.cmd, s.exited
	go func() { exited <- cmd.Wait() }()
	s.running = true
	t.Cleanup(func() {
		if s.running {
			_ = s.cmd.Process.Kill()
			<-s.exited //nolint:errcheck // killed: the exit status says nothing
		}
	})
	t.Logf("started: transformer %s", strings.Join(args, " "))
}

// serverLog is the end (at most 8000 bytes) of the server's output.
func (s *transformerServer) serverLog() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

// get fetches url and returns the status code and the body.
func (s *transformerServer) get(url string) (int, string, error) {
	resp, err := s.client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// signal sends sig to the server.
func (s *transformerServer) signal(sig os.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

// waitReady polls readyURL until it answers 200, for at most 20s, failing
// fast if the server exits.
func (s *transformerServer) waitReady(readyURL string) {
	t := s.t
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-s.exited:
			s.running = false
			t.Fatalf("transformer serve exited before it was ready: %v\n%s", err, s.serverLog())
		default:
		}
		if code, _, err := s.get(readyURL); err == nil && code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within 20s\n%s", readyURL, s.serverLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkProbes checks that each httpGet probe of the container answers 200
// on the port the manifests give it.
func (s *transformerServer) checkProbes() {
	t := s.t
	t.Helper()
	c := s.c
	for what, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
		if p == nil || p.HTTPGet == nil {
			continue
		}
		url := "http://" + s.addrOf(p.HTTPGet.Port) + p.HTTPGet.Path
		if code, body, err := s.get(url); err != nil || code != http.StatusOK {
			t.Errorf("%s probe GET %s = %d %v %q, want 200", what, url, code, err, body)
		}
	}
}

// checkMetrics checks that /metrics answers 200 on the metrics port with the
// Go runtime metrics, and records its URL for scrape.
func (s *transformerServer) checkMetrics() {
	t := s.t
	t.Helper()
	s.metricsURL = "http://" + s.addrOf(intstr.FromString(metricsPortName)) + "/metrics"
	if code, body, err := s.get(s.metricsURL); err != nil || code != http.StatusOK {
		t.Fatalf("GET %s = %d %v, want 200", s.metricsURL, code, err)
	} else if !strings.Contains(body, "go_goroutines") {
		t.Errorf("GET %s has no Go runtime metrics (go_goroutines)", s.metricsURL)
	}
}

// checkHealthcheck runs `transformer healthcheck -addr` against the http
// port, when the subcommand has that flag, and requires it to succeed.
func (s *transformerServer) checkHealthcheck() {
	t := s.t
	t.Helper()
	if hh, ok := healthcheckHasAddr(s.bin); ok {
		if out, err := exec.Command(s.bin, "healthcheck", "-addr", s.addrOf(intstr.FromString(httpPortName))).CombinedOutput(); err != nil {
			t.Errorf("transformer healthcheck -addr %s: %v\n%s", s.addrOf(intstr.FromString(httpPortName)), err, out)
		}
	} else {
		t.Logf("transformer healthcheck has no -addr flag; not run (help: %q)", hh)
	}
}

// postBatch posts a batch of an ok, a filtered and an error event to
// /transform on apiAddr for destination dest, and checks that it answers
// 200 with three results, the first one ok.
func (s *transformerServer) postBatch(apiAddr, dest string) {
	t := s.t
	t.Helper()
	body := `{"batch":[
 {"type":"track","event":"Order Completed","messageId":"m1","userId":"u1","properties":{"order_id":"o1","revenue":10,"currency":"USD"}},
 {"type":"identify","messageId":"m2","userId":"u1"},
 {"type":"track","messageId":"m3","userId":"u1"}]}`
	resp, err := s.client.Post("http://"+apiAddr+"/transform?destination="+dest, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST /transform: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /transform?destination=%s = %d %s\n%s", dest, resp.StatusCode, b, s.serverLog())
	}
	var out struct {
		Results []struct {
			Status string `json:"status"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.Results) != 3 {
		t.Fatalf("POST /transform: want 3 results, got %s (%v)", b, err)
	}
	if out.Results[0].Status != "ok" {
		t.Errorf("POST /transform: the ConfigMap's destination %q does not turn Order Completed into calls: %s", dest, b)
	}
}

// scrape fetches /metrics (checkMetrics must have run) and parses it.
func (s *transformerServer) scrape() []promSeries {
	t := s.t
	t.Helper()
	code, body, err := s.get(s.metricsURL)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET %s = %d %v", s.metricsURL, code, err)
	}
	return parseExposition(body)
}

// reloads is the sum of all spotify_transformer_config_reloads_total series.
func (s *transformerServer) reloads() float64 {
	s.t.Helper()
	var n float64
	for _, ser := range s.scrape() {
		if ser.name == "spotify_transformer_config_reloads_total" {
			n += ser.value
		}
	}
	return n
}

// waitReloads waits at most 10s for reloads to grow above above, failing
// fast if the server exits.
func (s *transformerServer) waitReloads(above float64) {
	t := s.t
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.reloads() <= above {
		select {
		case err := <-s.exited:
			s.running = false
			t.Fatalf("transformer exited after SIGHUP: %v\n%s", err, s.serverLog())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("spotify_transformer_config_reloads_total did not grow within 10s of SIGHUP\n%s", s.serverLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkGoodReload sends SIGHUP with the destinations file unchanged and
// checks that the successful reload matches none of the failure selectors
// sels.
func (s *transformerServer) checkGoodReload(sels []selector) {
	t := s.t
	t.Helper()
	before := s.reloads()
	s.signal(syscall.SIGHUP)
	s.waitReloads(before)
	for _, ser := range s.scrape() {
		for _, sel := range sels {
			if ser.value > 0 && sel.matches(ser) {
				t.Errorf("only good reloads happened, yet %s matches the alert selector on %s (labels %v): fix %s", ser.name, sel.metric, ser.labels, alertsFile)
			}
		}
	}
}

// checkFailedReload replaces destFile with a broken file and sends SIGHUP;
// the failed reload must show in a series that one of the failure selectors
// sels matches, and readyURL must still answer 200.
func (s *transformerServer) checkFailedReload(destFile string, sels []selector, readyURL string) {
	t := s.t
	t.Helper()
	before := s.reloads()
	tmp := destFile + ".new"
	if err := os.WriteFile(tmp, []byte("demo: [this is not, a destinations map\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, destFile); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGHUP)
	s.waitReloads(before)
	if len(sels) > 0 {
		s.waitFailedReloadSeries(sels)
	}
	if code, _, err := s.get(readyURL); err != nil || code != http.StatusOK {
		t.Errorf("after a failed reload %s = %d %v, want 200 (the last good config keeps serving)", readyURL, code, err)
	}
}

// waitFailedReloadSeries waits at most 5s for a config_reloads series with a
// positive value that one of sels matches.
func (s *transformerServer) waitFailedReloadSeries(sels []selector) {
	t := s.t
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		hit := false
		var seen []map[string]string
		for _, ser := range s.scrape() {
			if ser.name != "spotify_transformer_config_reloads_total" {
				continue
			}
			seen = append(seen, ser.labels)
			for _, sel := range sels {
				hit = hit || (ser.value > 0 && sel.matches(ser))
			}
		}
		if hit {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("after a failed reload no config_reloads series matches the alert selectors of %s (series: %v)", alertsFile, seen)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkSIGTERM sends SIGTERM and checks that the server exits 0 within
// grace (-drain-delay + -shutdown-grace) + 5s.
func (s *transformerServer) checkSIGTERM(grace time.Duration) {
	t := s.t
	t.Helper()
	s.signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		s.running = false
		if err != nil {
			t.Errorf("after SIGTERM transformer exited with %v, want 0\n%s", err, s.serverLog())
		}
	case <-time.After(grace + 5*time.Second):
		t.Fatalf("transformer did not exit within -drain-delay + -shutdown-grace (%s) + 5s of SIGTERM\n%s", grace, s.serverLog())
	}
}
