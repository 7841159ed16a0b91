// Package deploy holds the deployment files of the Spotify Pixel transformer
// and the tests that keep them honest:
//
//   - every YAML document of k8s/base decodes strictly (unknown or misspelt
//     fields fail) into the real Kubernetes API types, and kustomization.yaml
//     lists every file;
//   - the manifests agree with each other (selectors, named ports, probe
//     ports, listen flags, HPA/PDB targets, the ConfigMap behind
//     -destinations, security context, shutdown budget);
//   - the Prometheus scrape config keeps exactly the metrics port of the
//     Deployment's pods, and the alert rules only use documented metrics;
//   - the real binary (../cmd/transformer) accepts the Deployment's flags,
//     serves the probe paths and /metrics on the ports the manifests say,
//     exposes the metrics and label values the alerts use, and exits 0 on
//     SIGTERM.
//
// Run: cd deploy && go test ./...
package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	baseDir          = "k8s/base"
	promConfigFile   = "prometheus/prometheus.yml"
	alertsFile       = "prometheus/alerts.yml"
	exampleDestFile  = "destinations.example.yaml"
	httpPortName     = "http"    // the container port that serves the API and the probes
	metricsPortName  = "metrics" // the container port that serves /metrics (-metrics-listen)
	livenessPath     = "/health" // SPEC 7 "Operations"
	readinessPath    = "/ready"
	defaultGrace     = 20 * time.Second // SPEC 7 "Configuration": -shutdown-grace default
	metricNamePrefix = "spotify_transformer_"
)

// documentedMetrics are the metric names the alerts may use (SPEC 7
// "Operations"; names agreed with the service code), with their labels.
var documentedMetrics = map[string][]string{
	"spotify_transformer_http_requests_total":           {"route", "method", "code"},
	"spotify_transformer_http_request_duration_seconds": {"route"}, // histogram
	"spotify_transformer_events_total":                  {"type", "outcome"},
	"spotify_transformer_config_reloads_total":          {"result"},
}

// listenFlags are the serve flags that bind a port, in SPEC 7 order.
var listenFlags = []string{"listen", "metrics-listen"}

// ---------------------------------------------------------------------------
// Strict decoding into the real API types

// expectedKinds maps each kind the base may hold to its one apiVersion.
var expectedKinds = map[string]schema.GroupVersion{
	"Deployment":              appsv1.SchemeGroupVersion,
	"Service":                 corev1.SchemeGroupVersion,
	"ConfigMap":               corev1.SchemeGroupVersion,
	"HorizontalPodAutoscaler": autoscalingv2.SchemeGroupVersion,
	"PodDisruptionBudget":     policyv1.SchemeGroupVersion,
}

func strictDecoder(t *testing.T) runtime.Decoder {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		appsv1.AddToScheme, corev1.AddToScheme, autoscalingv2.AddToScheme, policyv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			t.Fatalf("building scheme: %v", err)
		}
	}
	// Strict: unknown fields, fields in the wrong case and duplicate keys are errors.
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
		kjson.SerializerOptions{Yaml: true, Strict: true})
}

// splitDocs splits a multi-document YAML file; documents that hold only
// comments or whitespace are dropped.
func splitDocs(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		if s := strings.TrimSpace(string(j)); s == "null" || s == "" {
			continue
		}
		docs = append(docs, doc)
	}
}

// decodeObject decodes one document strictly into its API type, chosen by
// apiVersion/kind; a kind or apiVersion the base must not use is an error.
func decodeObject(dec runtime.Decoder, doc []byte) (runtime.Object, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, fmt.Errorf("reading apiVersion/kind: %w", err)
	}
	gv, ok := expectedKinds[tm.Kind]
	if !ok {
		return nil, fmt.Errorf("kind %q is not one this test knows (add it to expectedKinds and check it)", tm.Kind)
	}
	if tm.APIVersion != gv.String() {
		return nil, fmt.Errorf("%s has apiVersion %q, want %q", tm.Kind, tm.APIVersion, gv.String())
	}
	obj, _, err := dec.Decode(doc, nil, nil)
	if err != nil {
		return nil, err
	}
	return obj, nil
}

type manifests struct {
	deploy *appsv1.Deployment
	svc    *corev1.Service
	cm     *corev1.ConfigMap
	hpa    *autoscalingv2.HorizontalPodAutoscaler
	pdb    *policyv1.PodDisruptionBudget
}

// loadBase decodes every document of every YAML file in k8s/base except
// kustomization.yaml, and requires exactly one object of each kind.
func loadBase(t *testing.T) *manifests {
	t.Helper()
	dec := strictDecoder(t)
	files := baseYAMLFiles(t)
	m := &manifests{}
	seen := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(baseDir, f))
		if err != nil {
			t.Fatal(err)
		}
		docs, err := splitDocs(data)
		if err != nil {
			t.Fatalf("%s: splitting YAML documents: %v", f, err)
		}
		if len(docs) == 0 {
			t.Fatalf("%s: no YAML document", f)
		}
		for i, doc := range docs {
			obj, err := decodeObject(dec, doc)
			if err != nil {
				t.Fatalf("%s (document %d): %v", f, i+1, err)
			}
			kind := obj.GetObjectKind().GroupVersionKind().Kind
			if prev, dup := seen[kind]; dup {
				t.Fatalf("%s: a second %s (the first is in %s); this test expects one of each", f, kind, prev)
			}
			seen[kind] = f
			switch o := obj.(type) {
			case *appsv1.Deployment:
				m.deploy = o
			case *corev1.Service:
				m.svc = o
			case *corev1.ConfigMap:
				m.cm = o
			case *autoscalingv2.HorizontalPodAutoscaler:
				m.hpa = o
			case *policyv1.PodDisruptionBudget:
				m.pdb = o
			default:
				t.Fatalf("%s: unexpected Go type %T", f, obj)
			}
		}
	}
	for kind := range expectedKinds {
		if _, ok := seen[kind]; !ok {
			t.Fatalf("no %s in %s", kind, baseDir)
		}
	}
	if n := len(m.deploy.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("Deployment has %d containers, this test expects 1", n)
	}
	return m
}

func (m *manifests) container() *corev1.Container { return &m.deploy.Spec.Template.Spec.Containers[0] }

func baseYAMLFiles(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(baseDir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || n == "kustomization.yaml" || n == "kustomization.yml" || n == "Kustomization" {
			continue
		}
		if strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml") {
			files = append(files, n)
		}
	}
	sort.Strings(files)
	return files
}

// The decoder must be strict, or the rest of this file proves little.
func TestStrictDecoderRejectsBadDocuments(t *testing.T) {
	dec := strictDecoder(t)
	good := `apiVersion: v1
kind: Service
metadata: {name: x}
spec:
  ports: [{name: http, port: 80, targetPort: http}]
`
	if _, err := decodeObject(dec, []byte(good)); err != nil {
		t.Fatalf("a valid Service failed to decode: %v", err)
	}
	bad := map[string]string{
		"unknown field":         strings.Replace(good, "targetPort: http", "targetPort: http, tragetPort: http", 1),
		"field in wrong case":   strings.Replace(good, "targetPort: http", "TargetPort: http", 1),
		"duplicate key":         strings.Replace(good, "name: http,", "name: http, name: web,", 1),
		"wrong value type":      strings.Replace(good, "port: 80", "port: eighty", 1),
		"unknown top-level key": good + "extra: 1\n",
		"unknown kind":          strings.Replace(good, "kind: Service", "kind: Servise", 1),
		"wrong apiVersion":      strings.Replace(strings.Replace(good, "kind: Service", "kind: HorizontalPodAutoscaler", 1), "spec:\n  ports: [{name: http, port: 80, targetPort: http}]\n", "", 1),
	}
	for name, doc := range bad {
		if _, err := decodeObject(dec, []byte(doc)); err == nil {
			t.Errorf("%s: decoded without error:\n%s", name, doc)
		}
	}
}

// ---------------------------------------------------------------------------
// kustomization.yaml

type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
	// Deliberately nothing else: labels, namePrefix, patches and the like
	// change what kustomize renders from what this test reads. Whoever adds
	// one extends this struct and checks TestKustomizeBuild still agrees.
}

func TestKustomizationListsEveryFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(baseDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: apiVersion/kind = %q/%q", k.APIVersion, k.Kind)
	}
	listed := map[string]bool{}
	for _, r := range k.Resources {
		if listed[r] {
			t.Errorf("kustomization.yaml lists %s twice", r)
		}
		listed[r] = true
		if _, err := os.Stat(filepath.Join(baseDir, r)); err != nil {
			t.Errorf("kustomization.yaml lists %s, which does not exist", r)
		}
	}
	for _, f := range baseYAMLFiles(t) {
		if !listed[f] {
			t.Errorf("%s/%s is not listed in kustomization.yaml resources", baseDir, f)
		}
	}
	m := loadBase(t)
	image := m.container().Image
	for _, img := range k.Images {
		if img.Name != image {
			t.Errorf("kustomization.yaml images[].name %q does not match the container image %q, so it overrides nothing", img.Name, image)
		}
	}
}

// TestKustomizeBuild renders the base with kubectl kustomize (or kustomize)
// when one is installed and decodes the output strictly again.
func TestKustomizeBuild(t *testing.T) {
	var cmd *exec.Cmd
	if p, err := exec.LookPath("kustomize"); err == nil {
		cmd = exec.Command(p, "build", baseDir)
	} else if p, err := exec.LookPath("kubectl"); err == nil {
		cmd = exec.Command(p, "kustomize", baseDir)
	} else {
		t.Skip("neither kustomize nor kubectl is installed: not rendering the kustomization")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	docs, err := splitDocs(out)
	if err != nil {
		t.Fatal(err)
	}
	dec := strictDecoder(t)
	kinds := map[string]int{}
	for _, doc := range docs {
		obj, err := decodeObject(dec, doc)
		if err != nil {
			t.Fatalf("rendered document: %v\n%s", err, doc)
		}
		kinds[obj.GetObjectKind().GroupVersionKind().Kind]++
	}
	for kind := range expectedKinds {
		if kinds[kind] != 1 {
			t.Errorf("rendered output has %d %s, want 1", kinds[kind], kind)
		}
	}
}

func TestManifestsDecodeStrictly(t *testing.T) {
	m := loadBase(t)
	t.Logf("decoded Deployment %s, Service %s, ConfigMap %s, HPA %s, PDB %s",
		m.deploy.Name, m.svc.Name, m.cm.Name, m.hpa.Name, m.pdb.Name)
}

// ---------------------------------------------------------------------------
// Internal consistency

func TestServiceMatchesDeployment(t *testing.T) {
	m := loadBase(t)
	podLabels := labels.Set(m.deploy.Spec.Template.Labels)

	sel, err := metav1.LabelSelectorAsSelector(m.deploy.Spec.Selector)
	if err != nil {
		t.Fatalf("Deployment selector: %v", err)
	}
	if sel.Empty() || !sel.Matches(podLabels) {
		t.Errorf("Deployment selector %v does not select its own pod labels %v", sel, podLabels)
	}

	if len(m.svc.Spec.Selector) == 0 {
		t.Fatal("Service has no selector")
	}
	if !labels.SelectorFromSet(m.svc.Spec.Selector).Matches(podLabels) {
		t.Errorf("Service selector %v does not match the pod labels %v", m.svc.Spec.Selector, podLabels)
	}

	ports := containerPortsByName(m.container())
	svcPorts := map[string]bool{}
	for _, sp := range m.svc.Spec.Ports {
		svcPorts[sp.Name] = true
		if sp.TargetPort.Type != intstr.String {
			t.Errorf("Service port %q: targetPort %s should name a container port, not a number", sp.Name, sp.TargetPort.String())
			continue
		}
		cp, ok := ports[sp.TargetPort.StrVal]
		if !ok {
			t.Errorf("Service port %q: targetPort %q is not a container port name (have %v)", sp.Name, sp.TargetPort.StrVal, keys(ports))
			continue
		}
		if proto(sp.Protocol) != proto(cp.Protocol) {
			t.Errorf("Service port %q is %s, container port %q is %s", sp.Name, proto(sp.Protocol), cp.Name, proto(cp.Protocol))
		}
	}
	for _, name := range []string{httpPortName, metricsPortName} {
		if _, ok := ports[name]; !ok {
			t.Errorf("container has no port named %q", name)
		}
		if !svcPorts[name] {
			t.Errorf("Service has no port named %q", name)
		}
	}
}

func TestProbesUseNamedContainerPorts(t *testing.T) {
	m := loadBase(t)
	c := m.container()
	ports := containerPortsByName(c)
	check := func(what string, p *corev1.Probe, wantPath string, required bool) {
		if p == nil {
			if required {
				t.Errorf("no %s probe", what)
			}
			return
		}
		if p.HTTPGet == nil {
			t.Errorf("%s probe is not an httpGet probe", what)
			return
		}
		if p.HTTPGet.Port.Type != intstr.String {
			t.Errorf("%s probe port %s should name a container port", what, p.HTTPGet.Port.String())
		} else if _, ok := ports[p.HTTPGet.Port.StrVal]; !ok {
			t.Errorf("%s probe port %q is not a container port name (have %v)", what, p.HTTPGet.Port.StrVal, keys(ports))
		} else if p.HTTPGet.Port.StrVal != httpPortName {
			t.Errorf("%s probe uses port %q, want %q (the main listener serves the probe paths)", what, p.HTTPGet.Port.StrVal, httpPortName)
		}
		if p.HTTPGet.Path != wantPath {
			t.Errorf("%s probe path %q, want %q (SPEC 7)", what, p.HTTPGet.Path, wantPath)
		}
	}
	check("liveness", c.LivenessProbe, livenessPath, true)
	check("readiness", c.ReadinessProbe, readinessPath, true)
	check("startup", c.StartupProbe, livenessPath, false)
}

func TestListenArgsMatchContainerPorts(t *testing.T) {
	m := loadBase(t)
	c := m.container()
	args := c.Args
	if len(c.Command) != 0 {
		t.Errorf("container sets command %v; the image's ENTRYPOINT is the binary, set args only", c.Command)
	}
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("container args %v should start with the serve subcommand", args)
	}
	flags := parseArgs(t, args[1:])
	byNumber := map[int32]corev1.ContainerPort{}
	for _, p := range c.Ports {
		byNumber[p.ContainerPort] = p
	}
	want := map[string]string{"listen": httpPortName, "metrics-listen": metricsPortName}
	bound := map[int32]bool{}
	for _, f := range listenFlags {
		v, ok := flags[f]
		if !ok {
			t.Errorf("container args have no -%s", f)
			continue
		}
		port := portOf(t, "-"+f, v)
		bound[port] = true
		cp, ok := byNumber[port]
		if !ok {
			t.Errorf("-%s=%s binds port %d, which is no container port", f, v, port)
			continue
		}
		if cp.Name != want[f] {
			t.Errorf("-%s=%s binds container port %q, want the one named %q", f, v, cp.Name, want[f])
		}
		if host, _, _ := net.SplitHostPort(v); host != "" && host != "0.0.0.0" && host != "::" {
			t.Errorf("-%s=%s listens on %q only; the kubelet and the Service reach the pod IP", f, v, host)
		}
	}
	for _, p := range c.Ports {
		if !bound[p.ContainerPort] {
			t.Errorf("container port %q (%d) is bound by no listen flag", p.Name, p.ContainerPort)
		}
	}
	if _, ok := flags["log-format"]; !ok {
		t.Errorf("container args have no -log-format")
	}
}

func TestHPAAndPDBTargetDeployment(t *testing.T) {
	m := loadBase(t)
	ref := m.hpa.Spec.ScaleTargetRef
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != m.deploy.Name {
		t.Errorf("HPA scaleTargetRef = %s %s/%s, want apps/v1 Deployment/%s", ref.APIVersion, ref.Kind, ref.Name, m.deploy.Name)
	}
	if m.deploy.Spec.Replicas != nil {
		t.Errorf("Deployment sets replicas=%d; with an HPA it must not (every apply would reset the HPA's count)", *m.deploy.Spec.Replicas)
	}
	minReplicas := int32(1)
	if m.hpa.Spec.MinReplicas != nil {
		minReplicas = *m.hpa.Spec.MinReplicas
	}
	if minReplicas < 2 {
		t.Errorf("HPA minReplicas %d: want at least 2 so that one pod can be disrupted", minReplicas)
	}
	if m.hpa.Spec.MaxReplicas < minReplicas {
		t.Errorf("HPA maxReplicas %d < minReplicas %d", m.hpa.Spec.MaxReplicas, minReplicas)
	}
	cpuMetric := false
	for _, ms := range m.hpa.Spec.Metrics {
		if ms.Type == autoscalingv2.ResourceMetricSourceType && ms.Resource != nil && ms.Resource.Name == corev1.ResourceCPU {
			cpuMetric = true
			if ms.Resource.Target.Type == autoscalingv2.UtilizationMetricType {
				if u := ms.Resource.Target.AverageUtilization; u == nil || *u <= 0 || *u > 100 {
					t.Errorf("HPA CPU averageUtilization should be in 1..100")
				}
				if _, ok := m.container().Resources.Requests[corev1.ResourceCPU]; !ok {
					t.Errorf("HPA scales on CPU utilization but the container has no CPU request")
				}
			}
		}
	}
	if !cpuMetric {
		t.Errorf("HPA has no CPU resource metric")
	}

	podLabels := labels.Set(m.deploy.Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(m.pdb.Spec.Selector)
	if err != nil {
		t.Fatalf("PDB selector: %v", err)
	}
	if sel.Empty() || !sel.Matches(podLabels) {
		t.Errorf("PDB selector %v does not select the Deployment's pods %v", sel, podLabels)
	}
	switch {
	case m.pdb.Spec.MinAvailable != nil && m.pdb.Spec.MaxUnavailable != nil:
		t.Errorf("PDB sets both minAvailable and maxUnavailable")
	case m.pdb.Spec.MinAvailable != nil:
		mv := m.pdb.Spec.MinAvailable
		if mv.Type == intstr.Int && mv.IntVal >= minReplicas {
			t.Errorf("PDB minAvailable %d >= HPA minReplicas %d: no pod could ever be evicted (node drains hang)", mv.IntVal, minReplicas)
		}
	case m.pdb.Spec.MaxUnavailable != nil:
		mv := m.pdb.Spec.MaxUnavailable
		if mv.Type == intstr.Int && mv.IntVal < 1 {
			t.Errorf("PDB maxUnavailable %d blocks every eviction", mv.IntVal)
		}
	default:
		t.Errorf("PDB sets neither minAvailable nor maxUnavailable")
	}
}

func TestDestinationsComeFromConfigMap(t *testing.T) {
	m := loadBase(t)
	c := m.container()
	flags := parseArgs(t, c.Args[1:])
	dest, ok := flags["destinations"]
	if !ok {
		t.Fatal("container args have no -destinations")
	}
	if !path.IsAbs(dest) {
		t.Fatalf("-destinations=%s is not an absolute path", dest)
	}
	key, data := configMapFileFor(t, m, dest)
	if data == "" {
		t.Fatalf("ConfigMap %s has no data for key %q (the file -destinations=%s points to)", m.cm.Name, key, dest)
	}
	ids := validateDestinations(t, "ConfigMap "+m.cm.Name+" "+key, []byte(data))
	if len(ids) == 0 {
		t.Errorf("ConfigMap %s defines no destination", m.cm.Name)
	}
}

// configMapFileFor finds the volume mount that holds file, requires it to be
// the ConfigMap of the base mounted as a directory, and returns the ConfigMap
// key and its data.
func configMapFileFor(t *testing.T, m *manifests, file string) (string, string) {
	t.Helper()
	c := m.container()
	var mount *corev1.VolumeMount
	for i := range c.VolumeMounts {
		vm := &c.VolumeMounts[i]
		if strings.HasPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/") &&
			(mount == nil || len(vm.MountPath) > len(mount.MountPath)) {
			mount = vm
		}
	}
	if mount == nil {
		t.Fatalf("no volume mount holds %s", file)
	}
	var vol *corev1.Volume
	for i := range m.deploy.Spec.Template.Spec.Volumes {
		if v := &m.deploy.Spec.Template.Spec.Volumes[i]; v.Name == mount.Name {
			vol = v
		}
	}
	if vol == nil {
		t.Fatalf("volume mount %q has no volume", mount.Name)
	}
	if vol.ConfigMap == nil || vol.ConfigMap.Name != m.cm.Name {
		t.Fatalf("volume %q holding %s is not the ConfigMap %s", vol.Name, file, m.cm.Name)
	}
	if mount.SubPath != "" || mount.SubPathExpr != "" {
		t.Errorf("volume mount %q uses subPath: kubelet never updates subPath mounts, so ConfigMap changes would not reach the server's reload", mount.Name)
	}
	if !mount.ReadOnly {
		t.Errorf("volume mount %q is not readOnly", mount.Name)
	}
	rel := strings.TrimPrefix(file, strings.TrimSuffix(mount.MountPath, "/")+"/")
	key := rel
	if len(vol.ConfigMap.Items) > 0 {
		key = ""
		for _, it := range vol.ConfigMap.Items {
			if it.Path == rel {
				key = it.Key
			}
		}
		if key == "" {
			t.Fatalf("ConfigMap volume %q items map no key to %s", vol.Name, rel)
		}
	}
	return key, m.cm.Data[key]
}

func TestSecurityContext(t *testing.T) {
	m := loadBase(t)
	pod := m.deploy.Spec.Template.Spec.SecurityContext
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	sc := m.container().SecurityContext
	if sc == nil {
		t.Fatal("container has no securityContext")
	}
	runAsNonRoot := pod.RunAsNonRoot
	if sc.RunAsNonRoot != nil {
		runAsNonRoot = sc.RunAsNonRoot
	}
	if runAsNonRoot == nil || !*runAsNonRoot {
		t.Errorf("runAsNonRoot is not true")
	}
	runAsUser := pod.RunAsUser
	if sc.RunAsUser != nil {
		runAsUser = sc.RunAsUser
	}
	if runAsUser != nil && *runAsUser == 0 {
		t.Errorf("runAsUser is 0 (root)")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("readOnlyRootFilesystem is not true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("allowPrivilegeEscalation is not false")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Errorf("container is privileged")
	}
	if sc.Capabilities == nil || !containsCap(sc.Capabilities.Drop, "ALL") {
		t.Errorf("capabilities do not drop ALL")
	} else if len(sc.Capabilities.Add) > 0 {
		t.Errorf("capabilities add %v", sc.Capabilities.Add)
	}
	seccomp := pod.SeccompProfile
	if sc.SeccompProfile != nil {
		seccomp = sc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccompProfile is not RuntimeDefault")
	}
	if am := m.deploy.Spec.Template.Spec.AutomountServiceAccountToken; am == nil || *am {
		t.Errorf("automountServiceAccountToken is not false (the server does not talk to the API server)")
	}
}

func TestGracefulShutdownBudget(t *testing.T) {
	m := loadBase(t)
	c := m.container()
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
		t.Fatal("container has no preStop hook")
	}
	pre := c.Lifecycle.PreStop
	if pre.Exec != nil {
		t.Errorf("preStop uses exec; the image is distroless (no shell, no sleep binary): use the sleep action")
	}
	if pre.Sleep == nil || pre.Sleep.Seconds < 1 {
		t.Fatalf("preStop has no sleep action of at least 1s")
	}
	grace := shutdownGrace(t, m)
	drain := durationSetting(t, m, "drain-delay", "TRANSFORMER_DRAIN_DELAY", 0)
	tgps := int64(30) // Kubernetes default
	if p := m.deploy.Spec.Template.Spec.TerminationGracePeriodSeconds; p != nil {
		tgps = *p
	}
	budget := time.Duration(pre.Sleep.Seconds)*time.Second + drain + grace
	if time.Duration(tgps)*time.Second <= budget {
		t.Errorf("terminationGracePeriodSeconds %d must exceed preStop sleep %ds + -drain-delay %s + -shutdown-grace %s = %s",
			tgps, pre.Sleep.Seconds, drain, grace, budget)
	}
	if c.ReadinessProbe != nil {
		if c.ReadinessProbe.PeriodSeconds > int32(pre.Sleep.Seconds) {
			t.Logf("note: readiness period %ds > preStop sleep %ds", c.ReadinessProbe.PeriodSeconds, pre.Sleep.Seconds)
		}
	}
}

// shutdownGrace is the -shutdown-grace the container runs with.
func shutdownGrace(t *testing.T, m *manifests) time.Duration {
	t.Helper()
	return durationSetting(t, m, "shutdown-grace", "TRANSFORMER_SHUTDOWN_GRACE", defaultGrace)
}

// durationSetting is a duration serve setting as the container runs it: the
// flag in args, else the literal env value, else the default.
func durationSetting(t *testing.T, m *manifests, flag, envName string, def time.Duration) time.Duration {
	t.Helper()
	c := m.container()
	flags := parseArgs(t, c.Args[1:])
	v, ok := flags[flag]
	if !ok {
		for _, e := range c.Env {
			if e.Name == envName && e.ValueFrom == nil {
				v, ok = e.Value, true
			}
		}
	}
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("-%s %q: %v", flag, v, err)
	}
	return d
}

func TestResourcesAndEnv(t *testing.T) {
	m := loadBase(t)
	c := m.container()
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[r]
		lim, okLim := c.Resources.Limits[r]
		if !okReq {
			t.Errorf("no %s request", r)
		}
		if !okLim {
			t.Errorf("no %s limit", r)
		}
		if okReq && okLim && req.Cmp(lim) > 0 {
			t.Errorf("%s request %s > limit %s", r, req.String(), lim.String())
		}
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("env %s set twice", e.Name)
		}
		env[e.Name] = e
	}
	tok, ok := env["TRANSFORMER_AUTH_TOKEN"]
	switch {
	case !ok:
		t.Errorf("no TRANSFORMER_AUTH_TOKEN env")
	case tok.Value != "" || tok.ValueFrom == nil || tok.ValueFrom.SecretKeyRef == nil:
		t.Errorf("TRANSFORMER_AUTH_TOKEN must come from a Secret (secretKeyRef), never a literal")
	case tok.ValueFrom.SecretKeyRef.Optional == nil || !*tok.ValueFrom.SecretKeyRef.Optional:
		t.Errorf("TRANSFORMER_AUTH_TOKEN secretKeyRef should be optional: true (no Secret = no auth)")
	}
	if e, ok := env["GOMEMLIMIT"]; ok {
		lim, okLim := c.Resources.Limits[corev1.ResourceMemory]
		n, err := parseGoMemLimit(e.Value)
		if err != nil {
			t.Errorf("GOMEMLIMIT %q: %v", e.Value, err)
		} else if okLim && n >= lim.Value() {
			t.Errorf("GOMEMLIMIT %s is not below the memory limit %s", e.Value, lim.String())
		}
	}
}

// ---------------------------------------------------------------------------
// Destinations files (SPEC 2.2 keys)

var destinationKeys = map[string]bool{
	"pixelId": true, "eventsToSpotifyPixelEvents": true, "enableAliasCall": true,
	"eventFilteringOption": true, "whitelistedEvents": true, "blacklistedEvents": true,
	"oneTrustCookieCategories": true, "ketchConsentPurposes": true, "consentManagement": true,
	"capiConnectionId": true, "capiAccessToken": true, // SPEC 8
}

// validateDestinations checks a destinations file against SPEC 2.2 (the
// server ignores unknown keys; here a typo is an error) and returns its ids.
func validateDestinations(t *testing.T, name string, data []byte) []string {
	t.Helper()
	var dests map[string]struct {
		Config map[string]json.RawMessage `json:"Config"`
	}
	if err := yaml.UnmarshalStrict(data, &dests); err != nil {
		t.Errorf("%s: not a map id -> {Config: {...}}: %v", name, err)
		return nil
	}
	var ids []string
	for id, d := range dests {
		ids = append(ids, id)
		where := fmt.Sprintf("%s: destination %q", name, id)
		if d.Config == nil {
			t.Errorf("%s has no Config", where)
			continue
		}
		for k := range d.Config {
			if !destinationKeys[k] {
				t.Errorf("%s: unknown config key %q (SPEC 2.2)", where, k)
			}
		}
		var pixel string
		if err := json.Unmarshal(d.Config["pixelId"], &pixel); err != nil || len([]rune(strings.TrimSpace(pixel))) == 0 || len([]rune(strings.TrimSpace(pixel))) > 100 {
			t.Errorf("%s: pixelId must be a string of 1..100 characters", where)
		}
		if raw, ok := d.Config["enableAliasCall"]; ok {
			var b bool
			if json.Unmarshal(raw, &b) != nil {
				t.Errorf("%s: enableAliasCall must be a boolean", where)
			}
		}
		if raw, ok := d.Config["eventFilteringOption"]; ok {
			var s string
			_ = json.Unmarshal(raw, &s)
			if s != "disable" && s != "whitelistedEvents" && s != "blacklistedEvents" {
				t.Errorf("%s: eventFilteringOption %s", where, raw)
			}
		}
		checkList := func(key string, fields ...string) {
			raw, ok := d.Config[key]
			if !ok {
				return
			}
			var list []map[string]json.RawMessage
			if err := json.Unmarshal(raw, &list); err != nil {
				var byType map[string][]map[string]json.RawMessage
				if err2 := json.Unmarshal(raw, &byType); err2 != nil || (key != "oneTrustCookieCategories" && key != "ketchConsentPurposes" && key != "consentManagement") {
					t.Errorf("%s: %s must be an array of {%s}", where, key, strings.Join(fields, ", "))
					return
				}
				list = byType["web"]
			}
			for _, e := range list {
				for k := range e {
					if !contains(fields, k) {
						t.Errorf("%s: %s entry has unknown key %q (want %v)", where, key, k, fields)
					}
				}
			}
		}
		checkList("eventsToSpotifyPixelEvents", "from", "to")
		checkList("whitelistedEvents", "eventName")
		checkList("blacklistedEvents", "eventName")
		checkList("oneTrustCookieCategories", "oneTrustCookieCategory")
		checkList("ketchConsentPurposes", "purpose")
		checkList("consentManagement", "provider", "consents", "resolutionStrategy")
	}
	sort.Strings(ids)
	return ids
}

func TestExampleDestinationsFile(t *testing.T) {
	data, err := os.ReadFile(exampleDestFile)
	if err != nil {
		t.Fatal(err)
	}
	ids := validateDestinations(t, exampleDestFile, data)
	if len(ids) < 2 {
		t.Errorf("%s defines %d destinations, want 2", exampleDestFile, len(ids))
	}
}

// ---------------------------------------------------------------------------
// Dockerfile (a text check: no Docker engine is needed)

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	var froms []string
	for _, line := range strings.Split(df, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.EqualFold(f[0], "FROM") {
			froms = append(froms, f[1])
		}
	}
	if len(froms) < 2 || !strings.HasPrefix(froms[0], "golang:") {
		t.Errorf("Dockerfile stages %v: want a golang build stage and a runtime stage", froms)
	} else if last := froms[len(froms)-1]; last != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("Dockerfile runtime stage is %s", last)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^RUN .*\./scripts/build\.sh`),
		regexp.MustCompile(`(?m)^COPY go\.mod go\.sum `),
		regexp.MustCompile(`(?m)^COPY deploy/` + regexp.QuoteMeta(exampleDestFile) + ` /etc/transformer/destinations\.yaml$`),
		regexp.MustCompile(`(?m)^USER (nonroot|65532)`),
		regexp.MustCompile(`(?m)^HEALTHCHECK .*CMD \["/transformer", ?"healthcheck"\]`),
		regexp.MustCompile(`(?m)^ENTRYPOINT \["/transformer"\]`),
		regexp.MustCompile(`(?m)^CMD \["serve"\]`),
	} {
		if !want.MatchString(df) {
			t.Errorf("Dockerfile has no line matching %s", want)
		}
	}
	m := loadBase(t)
	exposed := regexp.MustCompile(`(?m)^EXPOSE (.*)$`).FindAllStringSubmatch(df, -1)
	var all []string
	for _, e := range exposed {
		all = append(all, strings.Fields(e[1])...)
	}
	for _, p := range m.container().Ports {
		if !contains(all, strconv.Itoa(int(p.ContainerPort))) && !contains(all, fmt.Sprintf("%d/tcp", p.ContainerPort)) {
			t.Errorf("Dockerfile does not EXPOSE container port %q (%d)", p.Name, p.ContainerPort)
		}
	}
	build, err := os.ReadFile(filepath.Join("..", "scripts", "build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(build), "./cmd/transformer") || !strings.Contains(string(build), "${OUT:-bin/transformer}") {
		t.Errorf("scripts/build.sh does not build ./cmd/transformer into ${OUT:-bin/transformer}")
	}
}

// ---------------------------------------------------------------------------
// Prometheus scrape config and alerts

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

type relabelConfig struct {
	SourceLabels []string `json:"source_labels"`
	Separator    *string  `json:"separator"`
	Regex        *string  `json:"regex"`
	Action       string   `json:"action"`
	TargetLabel  string   `json:"target_label"`
}

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
	m := loadBase(t)
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
			for _, sel := range selectors(r.Expr) {
				if strings.HasPrefix(sel.metric, metricNamePrefix) {
					base := histogramBase(sel.metric)
					allowed, ok := documentedMetrics[base]
					if !ok {
						t.Errorf("alert %s uses %s, not a documented metric (%v)", r.Alert, sel.metric, keys(documentedMetrics))
						continue
					}
					for _, mt := range sel.matchers {
						if !contains(allowed, mt.name) && !(mt.name == "le" && base != sel.metric) {
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

type matcher struct{ name, op, value string }

type selector struct {
	metric   string
	matchers []matcher
}

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

// ---------------------------------------------------------------------------
// Against the real binary

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

	// Build.
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

	// Every flag in the container args is a serve flag.
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

	// Rewrite the listen flags to free loopback ports, and -destinations to
	// the ConfigMap's data in a temp file.
	byNumber := map[int32]string{} // container port -> local address
	local := map[string]string{}   // listen flag -> local address
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
	addrOfPort := func(p intstr.IntOrString) string {
		t.Helper()
		num := p.IntVal
		if p.Type == intstr.String {
			cp, ok := containerPortsByName(c)[p.StrVal]
			if !ok {
				t.Fatalf("no container port named %q", p.StrVal)
			}
			num = cp.ContainerPort
		}
		a, ok := byNumber[num]
		if !ok {
			t.Fatalf("container port %d is bound by no listen flag", num)
		}
		return a
	}
	key, data := configMapFileFor(t, m, flags["destinations"])
	destFile := filepath.Join(dir, key)
	if err := os.WriteFile(destFile, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	destIDs := validateDestinations(t, "ConfigMap data", []byte(data))
	if len(destIDs) == 0 {
		t.Fatal("the ConfigMap defines no destination")
	}
	var args []string
	for _, a := range c.Args {
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

	// Start it with the container's literal env and no TRANSFORMER_* from here.
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
	logPath := filepath.Join(dir, "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	srv := exec.Command(bin, args...)
	srv.Env = env
	srv.Stdout, srv.Stderr = logFile, logFile
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	running := true
	t.Cleanup(func() {
		if running {
			_ = srv.Process.Kill()
			<-exited
		}
	})
	serverLog := func() string {
		b, _ := os.ReadFile(logPath)
		if len(b) > 8000 {
			b = b[len(b)-8000:]
		}
		return string(b)
	}
	t.Logf("started: transformer %s", strings.Join(args, " "))

	client := &http.Client{Timeout: 3 * time.Second}
	get := func(url string) (int, string, error) {
		resp, err := client.Get(url)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	// Wait for readiness (as the kubelet would), failing fast if it exits.
	rp := c.ReadinessProbe.HTTPGet
	readyURL := "http://" + addrOfPort(rp.Port) + rp.Path
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			running = false
			t.Fatalf("transformer serve exited before it was ready: %v\n%s", err, serverLog())
		default:
		}
		if code, _, err := get(readyURL); err == nil && code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within 20s\n%s", readyURL, serverLog())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The probes answer 200 on the port the manifests give them.
	for what, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
		if p == nil || p.HTTPGet == nil {
			continue
		}
		url := "http://" + addrOfPort(p.HTTPGet.Port) + p.HTTPGet.Path
		if code, body, err := get(url); err != nil || code != http.StatusOK {
			t.Errorf("%s probe GET %s = %d %v %q, want 200", what, url, code, err, body)
		}
	}
	metricsURL := "http://" + addrOfPort(intstr.FromString(metricsPortName)) + "/metrics"
	if code, body, err := get(metricsURL); err != nil || code != http.StatusOK {
		t.Fatalf("GET %s = %d %v, want 200", metricsURL, code, err)
	} else if !strings.Contains(body, "go_goroutines") {
		t.Errorf("GET %s has no Go runtime metrics (go_goroutines)", metricsURL)
	}

	// The Dockerfile's HEALTHCHECK subcommand works against this server.
	if hh, _ := exec.Command(bin, "healthcheck", "-h").CombinedOutput(); regexp.MustCompile(`(?m)^\s*--?addr\b`).Match(hh) {
		if out, err := exec.Command(bin, "healthcheck", "-addr", addrOfPort(intstr.FromString(httpPortName))).CombinedOutput(); err != nil {
			t.Errorf("transformer healthcheck -addr %s: %v\n%s", addrOfPort(intstr.FromString(httpPortName)), err, out)
		}
	} else {
		t.Logf("transformer healthcheck has no -addr flag; not run (help: %q)", hh)
	}

	// A batch through the ConfigMap's destination: ok, filtered and error
	// events, so that the events metric sees each outcome.
	apiAddr := addrOfPort(intstr.FromString(httpPortName))
	post := func() {
		t.Helper()
		body := `{"batch":[
 {"type":"track","event":"Order Completed","messageId":"m1","userId":"u1","properties":{"order_id":"o1","revenue":10,"currency":"USD"}},
 {"type":"identify","messageId":"m2","userId":"u1"},
 {"type":"track","messageId":"m3","userId":"u1"}]}`
		resp, err := client.Post("http://"+apiAddr+"/transform?destination="+destIDs[0], "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("POST /transform: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /transform?destination=%s = %d %s\n%s", destIDs[0], resp.StatusCode, b, serverLog())
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
			t.Errorf("POST /transform: the ConfigMap's destination %q does not turn Order Completed into calls: %s", destIDs[0], b)
		}
	}
	post()

	scrape := func() []promSeries {
		t.Helper()
		code, body, err := get(metricsURL)
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET %s = %d %v", metricsURL, code, err)
		}
		return parseExposition(body)
	}
	reloads := func() float64 {
		var n float64
		for _, s := range scrape() {
			if s.name == "spotify_transformer_config_reloads_total" {
				n += s.value
			}
		}
		return n
	}
	ar := loadAlerts(t)
	var reloadFailSelectors []selector
	for _, g := range ar.Groups {
		for _, r := range g.Rules {
			for _, s := range selectors(r.Expr) {
				if s.metric == "spotify_transformer_config_reloads_total" && len(s.matchers) > 0 {
					reloadFailSelectors = append(reloadFailSelectors, s)
				}
			}
		}
	}
	waitReloads := func(above float64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for reloads() <= above {
			select {
			case err := <-exited:
				running = false
				t.Fatalf("transformer exited after SIGHUP: %v\n%s", err, serverLog())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("spotify_transformer_config_reloads_total did not grow within 10s of SIGHUP\n%s", serverLog())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// SIGHUP with a good file: a successful reload that no alert may take for a failure.
	before := reloads()
	if err := srv.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitReloads(before)
	for _, s := range scrape() {
		for _, sel := range reloadFailSelectors {
			if s.value > 0 && sel.matches(s) {
				t.Errorf("only good reloads happened, yet %s matches the alert selector on %s (labels %v): fix %s", s.name, sel.metric, s.labels, alertsFile)
			}
		}
	}

	// SIGHUP with a broken file: counted as a failure the alert sees; the
	// last good config keeps serving.
	before = reloads()
	tmp := destFile + ".new"
	if err := os.WriteFile(tmp, []byte("demo: [this is not, a destinations map\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, destFile); err != nil {
		t.Fatal(err)
	}
	if err := srv.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitReloads(before)
	if len(reloadFailSelectors) > 0 {
		deadline := time.Now().Add(5 * time.Second)
		for {
			hit := false
			var seen []map[string]string
			for _, s := range scrape() {
				if s.name != "spotify_transformer_config_reloads_total" {
					continue
				}
				seen = append(seen, s.labels)
				for _, sel := range reloadFailSelectors {
					hit = hit || (s.value > 0 && sel.matches(s))
				}
			}
			if hit {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("after a failed reload no config_reloads series matches the alert selectors of %s (series: %v)", alertsFile, seen)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if code, _, err := get(readyURL); err != nil || code != http.StatusOK {
		t.Errorf("after a failed reload %s = %d %v, want 200 (the last good config keeps serving)", readyURL, code, err)
	}
	post()

	// Every metric series the alerts use exists, with the labels and the
	// label values they select on.
	series := scrape()
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

	// SIGTERM: exits 0 within the shutdown grace.
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		running = false
		if err != nil {
			t.Errorf("after SIGTERM transformer exited with %v, want 0\n%s", err, serverLog())
		}
	case <-time.After(grace + 5*time.Second):
		t.Fatalf("transformer did not exit within -drain-delay + -shutdown-grace (%s) + 5s of SIGTERM\n%s", grace, serverLog())
	}
	if hh, _ := exec.Command(bin, "healthcheck", "-h").CombinedOutput(); regexp.MustCompile(`(?m)^\s*--?addr\b`).Match(hh) {
		if err := exec.Command(bin, "healthcheck", "-addr", apiAddr).Run(); err == nil {
			t.Errorf("transformer healthcheck exits 0 with no server on %s", apiAddr)
		}
	}
}

type promSeries struct {
	name   string
	labels map[string]string
	value  float64
}

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

// ---------------------------------------------------------------------------
// Helpers

// parseArgs reads "-name=value" flags; any other form is an error, so that
// the manifests are unambiguous without knowing each flag's type.
func parseArgs(t *testing.T, args []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			t.Fatalf("container arg %q: after the subcommand, write every flag as -name=value", a)
		}
		name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !ok {
			t.Fatalf("container arg %q: write flags as -name=value", a)
		}
		if _, dup := out[name]; dup {
			t.Fatalf("container arg -%s given twice", name)
		}
		out[name] = value
	}
	return out
}

func portOf(t *testing.T, flag, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s=%s: %v", flag, addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n <= 0 || n > 65535 {
		t.Fatalf("%s=%s: bad port", flag, addr)
	}
	return int32(n)
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func containerPortsByName(c *corev1.Container) map[string]corev1.ContainerPort {
	out := map[string]corev1.ContainerPort{}
	for _, p := range c.Ports {
		if p.Name != "" {
			out[p.Name] = p
		}
	}
	return out
}

func proto(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func containsCap(caps []corev1.Capability, want corev1.Capability) bool {
	for _, c := range caps {
		if c == want {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func uniq(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range list {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var invalidLabelChar = regexp.MustCompile(`[^a-zA-Z0-9_]`)

func sanitizeLabel(s string) string { return invalidLabelChar.ReplaceAllString(s, "_") }

// parseGoMemLimit parses the GOMEMLIMIT syntax (bytes with an optional
// B/KiB/MiB/GiB/TiB suffix).
func parseGoMemLimit(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suf) {
			s, mult = strings.TrimSuffix(s, u.suf), u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	return n * mult, nil
}
