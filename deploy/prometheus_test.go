package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// promConfig is the part of prometheus.yml these tests read.
type promConfig struct {
	RuleFiles     []string `json:"rule_files"`
	ScrapeConfigs []struct {
		JobName             string `json:"job_name"`
		MetricsPath         string `json:"metrics_path"`
		KubernetesSDConfigs []struct {
			Role string `json:"role"`
		} `json:"kubernetes_sd_configs"`
		RelabelConfigs []relabelConfig `json:"relabel_configs"`
	} `json:"scrape_configs"`
}

// relabelConfig is one relabel_configs entry of a scrape config.
type relabelConfig struct {
	SourceLabels []string `json:"source_labels"`
	Separator    *string  `json:"separator"`
	Regex        *string  `json:"regex"`
	Action       string   `json:"action"`
	TargetLabel  string   `json:"target_label"`
}

// alertRules is a Prometheus rule file, decoded strictly.
type alertRules struct {
	Groups []struct {
		Name     string `json:"name"`
		Interval string `json:"interval,omitempty"`
		Rules    []struct {
			Alert         string            `json:"alert,omitempty"`
			Record        string            `json:"record,omitempty"`
			Expr          string            `json:"expr"`
			For           string            `json:"for,omitempty"`
			KeepFiringFor string            `json:"keep_firing_for,omitempty"`
			Labels        map[string]string `json:"labels,omitempty"`
			Annotations   map[string]string `json:"annotations,omitempty"`
		} `json:"rules"`
	} `json:"groups"`
}

// loadPromConfig reads prometheus/prometheus.yml.
func loadPromConfig(t *testing.T) promConfig {
	t.Helper()
	data, err := os.ReadFile(promConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	var pc promConfig
	if err := yaml.Unmarshal(data, &pc); err != nil {
		t.Fatalf("%s: %v", promConfigFile, err)
	}
	return pc
}

// loadAlerts reads prometheus/alerts.yml strictly.
func loadAlerts(t *testing.T) alertRules {
	t.Helper()
	data, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var ar alertRules
	if err := yaml.UnmarshalStrict(data, &ar); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	return ar
}

// TestScrapeConfigKeepsMetricsPort simulates Prometheus' pod-role service
// discovery for the Deployment's pod (one target per container port) and
// applies the keep/drop relabel rules: exactly the metrics port must survive.
func TestScrapeConfigKeepsMetricsPort(t *testing.T) {
	checkScrapeConfigKeepsMetricsPort(t, loadBase(t))
}

// checkScrapeConfigKeepsMetricsPort is TestScrapeConfigKeepsMetricsPort on any set of manifests (the base or a Helm render).
func checkScrapeConfigKeepsMetricsPort(t *testing.T, m *manifests) {
	t.Helper()
	pc := loadPromConfig(t)
	if len(pc.ScrapeConfigs) != 1 {
		t.Fatalf("%s has %d scrape configs, want 1", promConfigFile, len(pc.ScrapeConfigs))
	}
	sc := pc.ScrapeConfigs[0]
	if len(sc.KubernetesSDConfigs) != 1 || sc.KubernetesSDConfigs[0].Role != "pod" {
		t.Errorf("scrape config %q should use kubernetes_sd_configs role pod", sc.JobName)
	}
	if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
		t.Errorf("metrics_path %q, the server serves /metrics", sc.MetricsPath)
	}
	c := m.container()
	var kept []string
	for _, p := range c.Ports {
		target := map[string]string{
			"__meta_kubernetes_namespace":                   "default",
			"__meta_kubernetes_pod_name":                    m.deploy.Name + "-abc",
			"__meta_kubernetes_pod_phase":                   "Running",
			"__meta_kubernetes_pod_ready":                   "true",
			"__meta_kubernetes_pod_container_name":          c.Name,
			"__meta_kubernetes_pod_container_port_name":     p.Name,
			"__meta_kubernetes_pod_container_port_number":   strconv.Itoa(int(p.ContainerPort)),
			"__meta_kubernetes_pod_container_port_protocol": string(proto(p.Protocol)),
		}
		for k, v := range m.deploy.Spec.Template.Labels {
			target["__meta_kubernetes_pod_label_"+sanitizeLabel(k)] = v
			target["__meta_kubernetes_pod_labelpresent_"+sanitizeLabel(k)] = "true"
		}
		if relabelKeeps(t, sc.RelabelConfigs, target) {
			kept = append(kept, p.Name)
		}
	}
	if len(kept) != 1 || kept[0] != metricsPortName {
		t.Errorf("relabeling keeps container ports %v of the Deployment's pod, want exactly [%s]", kept, metricsPortName)
	}
	// A pod of another app must be dropped.
	other := map[string]string{
		"__meta_kubernetes_pod_label_app_kubernetes_io_name": "something-else",
		"__meta_kubernetes_pod_container_port_name":          metricsPortName,
		"__meta_kubernetes_pod_phase":                        "Running",
	}
	if relabelKeeps(t, sc.RelabelConfigs, other) {
		t.Errorf("relabeling keeps the metrics port of a pod that is not the transformer")
	}
	alertsBase := filepath.Base(alertsFile)
	if !contains(pc.RuleFiles, alertsBase) {
		t.Errorf("%s rule_files %v does not load %s", promConfigFile, pc.RuleFiles, alertsBase)
	}
}

// relabelKeeps applies the keep and drop actions of rcs to a target's labels
// and reports whether the target survives.
func relabelKeeps(t *testing.T, rcs []relabelConfig, target map[string]string) bool {
	t.Helper()
	for _, rc := range rcs {
		if rc.Action != "keep" && rc.Action != "drop" {
			continue
		}
		sep := ";"
		if rc.Separator != nil {
			sep = *rc.Separator
		}
		re := "(.*)"
		if rc.Regex != nil {
			re = *rc.Regex
		}
		rx, err := regexp.Compile("^(?:" + re + ")$")
		if err != nil {
			t.Fatalf("relabel regex %q: %v", re, err)
		}
		var vals []string
		for _, l := range rc.SourceLabels {
			vals = append(vals, target[l])
		}
		match := rx.MatchString(strings.Join(vals, sep))
		if (rc.Action == "keep" && !match) || (rc.Action == "drop" && match) {
			return false
		}
	}
	return true
}

// TestAlertRules checks that alert names are unique, that every alert has a
// severity and a summary, that the alerts only use documented metrics and
// labels and the scrape job's name, and, when promtool is installed, that
// promtool check rules accepts the file.
func TestAlertRules(t *testing.T) {
	ar := loadAlerts(t)
	pc := loadPromConfig(t)
	job := ""
	if len(pc.ScrapeConfigs) > 0 {
		job = pc.ScrapeConfigs[0].JobName
	}
	n := 0
	names := map[string]bool{}
	for _, g := range ar.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" {
				continue
			}
			if names[r.Alert] {
				t.Errorf("alert %s defined twice", r.Alert)
			}
			names[r.Alert] = true
			if r.Labels["severity"] == "" {
				t.Errorf("alert %s has no severity label", r.Alert)
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("alert %s has no summary annotation", r.Alert)
			}
			checkRunbook(t, r.Alert, r.Annotations["runbook_url"])
			for _, sel := range selectors(r.Expr) {
				if strings.HasPrefix(sel.metric, metricNamePrefix) {
					base := histogramBase(sel.metric)
					allowed, ok := documentedMetrics[base]
					if !ok {
						t.Errorf("alert %s uses %s, not a documented metric (%v)", r.Alert, sel.metric, keys(documentedMetrics))
						continue
					}
					for _, mt := range sel.matchers {
						histogramLE := mt.name == "le" && base != sel.metric
						if !contains(allowed, mt.name) && !histogramLE {
							t.Errorf("alert %s: %s has no label %q (labels: %v)", r.Alert, sel.metric, mt.name, allowed)
						}
					}
				}
				for _, mt := range sel.matchers {
					if mt.name == "job" && mt.op == "=" && mt.value != job {
						t.Errorf("alert %s selects job %q, the scrape job is %q", r.Alert, mt.value, job)
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatalf("%s has no rules", alertsFile)
	}
	for m := range documentedMetrics {
		used := false
		for _, g := range ar.Groups {
			for _, r := range g.Rules {
				used = used || strings.Contains(r.Expr, m)
			}
		}
		if !used {
			t.Logf("note: no alert uses %s", m)
		}
	}

	// promtool validates PromQL and templates when it is installed.
	if p, err := exec.LookPath("promtool"); err == nil {
		out, err := exec.Command(p, "check", "rules", alertsFile).CombinedOutput()
		if err != nil {
			t.Errorf("promtool check rules %s: %v\n%s", alertsFile, err, out)
		}
	} else {
		t.Log("promtool is not installed: PromQL syntax not checked")
	}
}

// matcher is one label matcher of a PromQL selector, such as code=~"5..".
type matcher struct{ name, op, value string }

// selector is a PromQL vector selector: a metric name and its matchers.
type selector struct {
	metric   string
	matchers []matcher
}

// selectorRe finds the vector selectors of a PromQL expression; matcherRe
// finds the label matchers inside one.
var (
	selectorRe = regexp.MustCompile(`\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}|\b(` + metricNamePrefix + `[a-zA-Z0-9_:]*)`)
	matcherRe  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"`)
)

// selectors extracts the vector selectors of a PromQL expression that name
// a metric (good enough for the simple expressions of alerts.yml).
func selectors(expr string) []selector {
	var out []selector
	for _, m := range selectorRe.FindAllStringSubmatch(expr, -1) {
		if m[3] != "" {
			out = append(out, selector{metric: m[3]})
			continue
		}
		s := selector{metric: m[1]}
		for _, mm := range matcherRe.FindAllStringSubmatch(m[2], -1) {
			s.matchers = append(s.matchers, matcher{name: mm[1], op: mm[2], value: mm[3]})
		}
		out = append(out, s)
	}
	return out
}

// histogramBase is the documented histogram a _bucket, _sum or _count series
// name belongs to, or name itself.
func histogramBase(name string) string {
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if b := strings.TrimSuffix(name, suf); b != name {
			if _, ok := documentedMetrics[b]; ok {
				return b
			}
		}
	}
	return name
}

// matches reports whether label value v satisfies mt.
func (mt matcher) matches(v string) bool {
	switch mt.op {
	case "=":
		return v == mt.value
	case "!=":
		return v != mt.value
	}
	rx := regexp.MustCompile("^(?:" + mt.value + ")$")
	if mt.op == "=~" {
		return rx.MatchString(v)
	}
	return !rx.MatchString(v)
}

// matches reports whether series has s's metric name and satisfies all its
// matchers.
func (s selector) matches(series promSeries) bool {
	if series.name != s.metric {
		return false
	}
	for _, mt := range s.matchers {
		if !mt.matches(series.labels[mt.name]) {
			return false
		}
	}
	return true
}

// promSeries is one sample line of the Prometheus text format.
type promSeries struct {
	name   string
	labels map[string]string
	value  float64
}

// labelPairRe matches one name="value" label pair of the text format.
var labelPairRe = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// parseExposition reads the Prometheus text format (enough for these checks).
func parseExposition(body string) []promSeries {
	var out []promSeries
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := promSeries{labels: map[string]string{}}
		rest := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			s.name = line[:i]
			rest = line[i:]
		}
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndex(rest, "}")
			if end < 0 {
				continue
			}
			for _, m := range labelPairRe.FindAllStringSubmatch(rest[1:end], -1) {
				v, err := strconv.Unquote(`"` + m[2] + `"`)
				if err != nil {
					v = m[2]
				}
				s.labels[m[1]] = v
			}
			rest = rest[end+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		s.value, _ = strconv.ParseFloat(f[0], 64)
		out = append(out, s)
	}
	return out
}

// checkRunbook requires an alert's runbook_url to point at its own entry of
// docs/RUNBOOK.md, and that entry to say what the alert means, how to
// confirm it and what to do.
func checkRunbook(t *testing.T, alert, url string) {
	t.Helper()
	want := "docs/RUNBOOK.md#" + strings.ToLower(alert)
	if url != want {
		t.Errorf("alert %s: runbook_url %q, want %q", alert, url, want)
	}
	b, err := os.ReadFile("../docs/RUNBOOK.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	head := "\n## " + alert + "\n"
	i := strings.Index(doc, head)
	if i < 0 {
		t.Errorf("docs/RUNBOOK.md has no section %q", strings.TrimSpace(head))
		return
	}
	entry := doc[i+len(head):]
	if j := strings.Index(entry, "\n## "); j >= 0 {
		entry = entry[:j]
	}
	for _, part := range []string{"**Means.**", "**Confirm.**", "**Do.**"} {
		if !strings.Contains(entry, part) {
			t.Errorf("docs/RUNBOOK.md, %s: no %s paragraph", alert, part)
		}
	}
}
