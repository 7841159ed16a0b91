package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestBinaryServesWhatTheManifestsSay builds ../cmd/transformer and runs it
// as the Deployment would (its args and literal env, the listen flags moved
// to free loopback ports, -destinations pointing at the ConfigMap's data). It
// checks that the binary accepts every container flag, serves the probe
// paths and /metrics on the ports the manifests say, transforms a batch,
// counts good and failed SIGHUP reloads the way the alerts expect, exposes
// every series, label and label value the alerts select on, and exits 0 on
// SIGTERM. The steps live in binary_server_test.go.
func TestBinaryServesWhatTheManifestsSay(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if srcs, _ := filepath.Glob(filepath.Join(root, "cmd", "transformer", "*.go")); len(srcs) == 0 {
		t.Skip("../cmd/transformer does not exist yet (no Go files): skipping the checks against the real binary")
	}
	m := loadBase(t)
	c := m.container()
	grace := shutdownGrace(t, m) + durationSetting(t, m, "drain-delay", "TRANSFORMER_DRAIN_DELAY", 0)

	bin := buildTransformer(t, root)
	dir := filepath.Dir(bin)

	// Every flag in the container args is a serve flag.
	flags := checkServeFlags(t, bin, c)

	// Rewrite the listen flags to free loopback ports, and -destinations to
	// the ConfigMap's data in a temp file.
	byNumber, local := loopbackListenAddrs(t, flags)
	s := newTransformerServer(t, bin, c, byNumber)
	destFile, destIDs := writeConfigMapDestinations(t, m, flags, dir)
	args := serveArgs(c.Args, destFile, local)

	// Start it with the container's literal env and no TRANSFORMER_* from here.
	s.start(args, filepath.Join(dir, "serve.log"))

	// Wait for readiness (as the kubelet would), failing fast if it exits.
	rp := c.ReadinessProbe.HTTPGet
	readyURL := "http://" + s.addrOf(rp.Port) + rp.Path
	s.waitReady(readyURL)

	// The probes answer 200 on the port the manifests give them, and so
	// does /metrics.
	s.checkProbes()
	s.checkMetrics()

	// The Dockerfile's HEALTHCHECK subcommand works against this server.
	s.checkHealthcheck()

	// A batch through the ConfigMap's destination: ok, filtered and error
	// events, so that the events metric sees each outcome.
	apiAddr := s.addrOf(intstr.FromString(httpPortName))
	s.postBatch(apiAddr, destIDs[0])

	ar := loadAlerts(t)
	reloadFailSelectors := reloadFailureSelectors(ar)

	// SIGHUP with a good file: a successful reload that no alert may take for a failure.
	s.checkGoodReload(reloadFailSelectors)

	// SIGHUP with a broken file: counted as a failure the alert sees; the
	// last good config keeps serving.
	s.checkFailedReload(destFile, reloadFailSelectors, readyURL)
	s.postBatch(apiAddr, destIDs[0])

	// Every metric series the alerts use exists, with the labels and the
	// label values they select on.
	checkAlertSeries(t, ar, s.scrape())

	// The body budget the binary derived from the manifest's numbers holds
	// the largest body and stays within GOMEMLIMIT and the memory limit.
	checkMemoryBudget(t, m, s.scrape())

	// SIGTERM: exits 0 within the shutdown grace.
	s.checkSIGTERM(grace)
	checkHealthcheckFailsWithoutServer(t, bin, apiAddr)
}

// buildTransformer builds ./cmd/transformer of the repository at root
// (CGO disabled, -trimpath) into a fresh temp dir and returns the binary's
// path.
func buildTransformer(t *testing.T, root string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is not on PATH: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "transformer")
	build := exec.Command(goBin, "build", "-trimpath", "-o", bin, "./cmd/transformer")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/transformer: %v\n%s", err, out)
	}
	return bin
}

// checkServeFlags checks that every flag in the container args is listed by
// `transformer serve -h`, and returns the container's flags by name.
func checkServeFlags(t *testing.T, bin string, c *corev1.Container) map[string]string {
	t.Helper()
	help, _ := exec.Command(bin, "serve", "-h").CombinedOutput() // -h may exit 0 or 2
	if len(bytes.TrimSpace(help)) == 0 {
		t.Fatalf("transformer serve -h printed nothing")
	}
	flags := parseArgs(t, c.Args[1:])
	for name := range flags {
		if !regexp.MustCompile(`(?m)^\s*--?` + regexp.QuoteMeta(name) + `(\s|=|$)`).Match(help) {
			t.Errorf("container arg -%s is not a flag of `transformer serve` (serve -h):\n%s", name, help)
		}
	}
	return flags
}

// loopbackListenAddrs picks a free loopback address for each of listenFlags
// and returns them by the container port the flag binds (byNumber) and by
// flag name (local).
func loopbackListenAddrs(t *testing.T, flags map[string]string) (byNumber map[int32]string, local map[string]string) {
	t.Helper()
	byNumber = map[int32]string{} // container port -> local address
	local = map[string]string{}   // listen flag -> local address
	ports := freePorts(t, len(listenFlags))
	for i, f := range listenFlags {
		v, ok := flags[f]
		if !ok {
			t.Fatalf("container args have no -%s", f)
		}
		addr := "127.0.0.1:" + strconv.Itoa(ports[i])
		local[f] = addr
		byNumber[portOf(t, "-"+f, v)] = addr
	}
	return byNumber, local
}

// writeConfigMapDestinations writes the ConfigMap data behind -destinations
// to dir (under its ConfigMap key), validates it and returns the file's path
// and the destination ids, of which there must be at least one.
func writeConfigMapDestinations(t *testing.T, m *manifests, flags map[string]string, dir string) (string, []string) {
	t.Helper()
	key, data := configMapFileFor(t, m, flags["destinations"])
	destFile := filepath.Join(dir, key)
	if err := os.WriteFile(destFile, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	destIDs := validateDestinations(t, "ConfigMap data", []byte(data))
	if len(destIDs) == 0 {
		t.Fatal("the ConfigMap defines no destination")
	}
	return destFile, destIDs
}

// serveArgs is containerArgs with -destinations pointing at destFile and
// each listen flag in local pointing at its local address; every other
// argument is kept as is.
func serveArgs(containerArgs []string, destFile string, local map[string]string) []string {
	var args []string
	for _, a := range containerArgs {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case !strings.HasPrefix(a, "-"):
			args = append(args, a)
		case name == "destinations":
			args = append(args, "-destinations="+destFile)
		case local[name] != "":
			args = append(args, "-"+name+"="+local[name])
		default:
			args = append(args, a)
		}
	}
	return args
}

// serveEnv is the environment the binary runs with: this process's, without
// any TRANSFORMER_* variable, plus the container's literal env values.
func serveEnv(c *corev1.Container) []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "TRANSFORMER_") {
			env = append(env, e)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env = append(env, e.Name+"="+e.Value)
		}
	}
	return env
}

// healthcheckHasAddr reports whether `transformer healthcheck -h` lists an
// -addr flag, and returns that help text.
func healthcheckHasAddr(bin string) ([]byte, bool) {
	hh, _ := exec.Command(bin, "healthcheck", "-h").CombinedOutput()
	return hh, regexp.MustCompile(`(?m)^\s*--?addr\b`).Match(hh)
}

// checkHealthcheckFailsWithoutServer checks, when the healthcheck subcommand
// has an -addr flag, that it exits non-zero with no server on apiAddr.
func checkHealthcheckFailsWithoutServer(t *testing.T, bin, apiAddr string) {
	t.Helper()
	if _, ok := healthcheckHasAddr(bin); ok {
		if err := exec.Command(bin, "healthcheck", "-addr", apiAddr).Run(); err == nil {
			t.Errorf("transformer healthcheck exits 0 with no server on %s", apiAddr)
		}
	}
}

// reloadFailureSelectors are the alert selectors on
// spotify_transformer_config_reloads_total that have label matchers: the
// ones that tell a failed reload from a good one.
func reloadFailureSelectors(ar alertRules) []selector {
	var out []selector
	for _, g := range ar.Groups {
		for _, r := range g.Rules {
			for _, s := range selectors(r.Expr) {
				if s.metric == "spotify_transformer_config_reloads_total" && len(s.matchers) > 0 {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// checkAlertSeries checks that every spotify_transformer_ series the alerts
// use is in series, with each label they match on and, for = matchers, the
// label value they select.
func checkAlertSeries(t *testing.T, ar alertRules, series []promSeries) {
	t.Helper()
	byName := map[string][]promSeries{}
	for _, s := range series {
		byName[s.name] = append(byName[s.name], s)
	}
	for _, g := range ar.Groups {
		for _, r := range g.Rules {
			for _, sel := range selectors(r.Expr) {
				if !strings.HasPrefix(sel.metric, metricNamePrefix) {
					continue
				}
				got := byName[sel.metric]
				if len(got) == 0 {
					t.Errorf("alert %s uses %s, which the binary does not expose", r.Alert, sel.metric)
					continue
				}
				for _, mt := range sel.matchers {
					var values []string
					for _, s := range got {
						if v, ok := s.labels[mt.name]; ok {
							values = append(values, v)
						}
					}
					if len(values) == 0 {
						t.Errorf("alert %s: %s has no label %q in the binary's output", r.Alert, sel.metric, mt.name)
					} else if mt.op == "=" && !contains(values, mt.value) {
						t.Errorf("alert %s: %s{%s=%q} never appears; the binary's values are %v", r.Alert, sel.metric, mt.name, mt.value, uniq(values))
					}
				}
			}
		}
	}
}
