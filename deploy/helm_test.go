package deploy

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// helmNamespace is the namespace the chart is rendered for.
const helmNamespace = "pixels"

// renderChart renders the chart as `helm template RELEASE CHART -n
// helmNamespace -f overrides` would, with the Helm SDK (no helm binary, no
// cluster), and returns the rendered manifests by template file, without
// NOTES.txt.
func renderChart(release, overrides string) (map[string]string, error) {
	ch, err := loader.LoadDir(helmChartDir)
	if err != nil {
		return nil, err
	}
	user := map[string]any{}
	if err := yaml.Unmarshal([]byte(overrides), &user); err != nil {
		return nil, err
	}
	vals, err := util.ToRenderValues(ch, user,
		common.ReleaseOptions{Name: release, Namespace: helmNamespace, Revision: 1, IsInstall: true}, nil)
	if err != nil {
		return nil, err
	}
	// Strict: a template that reads a value values.yaml does not define fails.
	out, err := engine.Engine{Strict: true}.RenderWithContext(context.Background(), ch, vals)
	if err != nil {
		return nil, err
	}
	for name := range out {
		if strings.HasSuffix(name, "/NOTES.txt") {
			delete(out, name)
		}
	}
	return out, nil
}

// loadHelm renders the chart and decodes every document strictly into the
// API types, as loadBase does for the base; the kinds that the values
// switch off stay nil, and a kind rendered twice is an error.
func loadHelm(t *testing.T, release, overrides string) *manifests {
	t.Helper()
	out, err := renderChart(release, overrides)
	if err != nil {
		t.Fatalf("rendering %s: %v", helmChartDir, err)
	}
	dec := strictDecoder(t)
	m := &manifests{}
	seen := map[string]string{}
	for _, file := range keys(out) {
		docs, err := splitDocs([]byte(out[file]))
		if err != nil {
			t.Fatalf("%s: splitting YAML documents: %v", file, err)
		}
		m.addDocs(t, dec, seen, file, docs)
	}
	if m.deploy == nil || m.svc == nil {
		t.Fatalf("the render has no Deployment or no Service (kinds: %v)", keys(seen))
	}
	if n := len(m.deploy.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("the rendered Deployment has %d containers, want 1", n)
	}
	return m
}

// kustomizedBase is the base as `kubectl apply -k` applies it: the images of
// kustomization.yaml set on the container.
func kustomizedBase(t *testing.T) *manifests {
	t.Helper()
	m := loadBase(t)
	k := readKustomization(t)
	c := m.container()
	for _, img := range k.Images {
		if img.Name != c.Image {
			continue
		}
		name := c.Image
		if img.NewName != "" {
			name = img.NewName
		}
		switch {
		case img.Digest != "":
			c.Image = name + "@" + img.Digest
		case img.NewTag != "":
			c.Image = name + ":" + img.NewTag
		default:
			c.Image = name
		}
	}
	return m
}

// same reports a difference between what the base has and what the chart
// renders, both shown as YAML.
func same(t *testing.T, what string, base, helm any) bool {
	t.Helper()
	if equality.Semantic.DeepEqual(base, helm) {
		return true
	}
	b, _ := yaml.Marshal(base)
	h, _ := yaml.Marshal(helm)
	t.Errorf("%s differs from the kustomize base\nbase:\n%s\nhelm:\n%s", what, b, h)
	return false
}

// superset requires the chart's labels to hold every label of the base with
// the same value (Helm adds the release's own), and returns the base's, so
// that the caller can compare the rest of the object.
func superset(t *testing.T, what string, base, helm map[string]string) map[string]string {
	t.Helper()
	for k, v := range base {
		if helm[k] != v {
			t.Errorf("%s: label %s=%q of the base is %q in the chart", what, k, v, helm[k])
		}
	}
	return base
}

// TestHelmDefaultsMatchKustomize renders the chart with its default values,
// as the release "spotify-pixel-transformer", and requires the objects of
// the kustomize base (with its image override): the same names, the
// container's image, args, env, ports, probes, resources and the rest of
// each spec field by field, the ConfigMap's destinations, and labels and
// selectors that hold the base's (Helm adds app.kubernetes.io/instance and
// its own labels).
func TestHelmDefaultsMatchKustomize(t *testing.T) {
	base := kustomizedBase(t)
	h := loadHelm(t, base.deploy.Name, "")
	for _, p := range []struct {
		kind       string
		base, helm *metav1.ObjectMeta
	}{
		{"Deployment", &base.deploy.ObjectMeta, objectMeta(t, h.deploy)},
		{"Service", &base.svc.ObjectMeta, objectMeta(t, h.svc)},
		{"ConfigMap", &base.cm.ObjectMeta, objectMeta(t, h.cm)},
		{"HorizontalPodAutoscaler", &base.hpa.ObjectMeta, objectMeta(t, h.hpa)},
		{"PodDisruptionBudget", &base.pdb.ObjectMeta, objectMeta(t, h.pdb)},
	} {
		same(t, p.kind+" name", p.base.Name, p.helm.Name)
		superset(t, p.kind+" labels", p.base.Labels, p.helm.Labels)
		if p.helm.Namespace != "" {
			t.Errorf("%s sets namespace %q; helm -n chooses it", p.kind, p.helm.Namespace)
		}
	}
	compareDeployment(t, base.deploy, h.deploy)
	compareDestinations(t, base.cm, h.cm)

	svc := h.svc.Spec.DeepCopy()
	svc.Selector = superset(t, "Service selector", base.svc.Spec.Selector, svc.Selector)
	same(t, "Service spec", base.svc.Spec, *svc)
	same(t, "HorizontalPodAutoscaler spec", base.hpa.Spec, h.hpa.Spec)
	pdb := h.pdb.Spec.DeepCopy()
	pdb.Selector = selectorSuperset(t, "PodDisruptionBudget selector", base.pdb.Spec.Selector, pdb.Selector)
	same(t, "PodDisruptionBudget spec", base.pdb.Spec, *pdb)
}

// objectMeta is obj's metadata; obj must have been rendered.
func objectMeta(t *testing.T, obj metav1.Object) *metav1.ObjectMeta {
	t.Helper()
	if reflect.ValueOf(obj).IsNil() {
		t.Fatalf("the default render has no %T", obj)
	}
	return &metav1.ObjectMeta{Name: obj.GetName(), Namespace: obj.GetNamespace(), Labels: obj.GetLabels()}
}

// selectorSuperset is superset for a label selector that matches labels
// only.
func selectorSuperset(t *testing.T, what string, base, helm *metav1.LabelSelector) *metav1.LabelSelector {
	t.Helper()
	if base == nil || helm == nil || len(base.MatchExpressions)+len(helm.MatchExpressions) > 0 {
		same(t, what, base, helm)
		return helm
	}
	return &metav1.LabelSelector{MatchLabels: superset(t, what, base.MatchLabels, helm.MatchLabels)}
}

// compareDeployment compares the container field by field (for readable
// failures), then the whole Deployment spec with the selectors and pod
// labels checked as supersets of the base's.
func compareDeployment(t *testing.T, base, helm *appsv1.Deployment) {
	t.Helper()
	bc, hc := &base.Spec.Template.Spec.Containers[0], &helm.Spec.Template.Spec.Containers[0]
	for _, f := range []struct {
		name       string
		base, helm any
	}{
		{"image", bc.Image, hc.Image},
		{"imagePullPolicy", bc.ImagePullPolicy, hc.ImagePullPolicy},
		{"command", bc.Command, hc.Command},
		{"args", bc.Args, hc.Args},
		{"env", bc.Env, hc.Env},
		{"ports", bc.Ports, hc.Ports},
		{"startupProbe", bc.StartupProbe, hc.StartupProbe},
		{"livenessProbe", bc.LivenessProbe, hc.LivenessProbe},
		{"readinessProbe", bc.ReadinessProbe, hc.ReadinessProbe},
		{"resources", bc.Resources, hc.Resources},
		{"lifecycle", bc.Lifecycle, hc.Lifecycle},
		{"securityContext", bc.SecurityContext, hc.SecurityContext},
		{"volumeMounts", bc.VolumeMounts, hc.VolumeMounts},
	} {
		same(t, "container "+f.name, f.base, f.helm)
	}
	spec := helm.Spec.DeepCopy()
	spec.Selector = selectorSuperset(t, "Deployment selector", base.Spec.Selector, spec.Selector)
	spec.Template.Labels = superset(t, "pod labels", base.Spec.Template.Labels, spec.Template.Labels)
	bt, ht := base.Spec.Template.Spec.TopologySpreadConstraints, spec.Template.Spec.TopologySpreadConstraints
	if len(bt) == len(ht) {
		for i := range ht {
			ht[i].LabelSelector = selectorSuperset(t, "topologySpreadConstraints labelSelector", bt[i].LabelSelector, ht[i].LabelSelector)
		}
	}
	same(t, "pod spec", base.Spec.Template.Spec, spec.Template.Spec)
	same(t, "Deployment spec", base.Spec, *spec)
}

// compareDestinations requires the same ConfigMap keys, each holding the
// same YAML value.
func compareDestinations(t *testing.T, base, helm *corev1.ConfigMap) {
	t.Helper()
	if !same(t, "ConfigMap keys", keys(base.Data), keys(helm.Data)) {
		return
	}
	for k, bv := range base.Data {
		var b, h any
		if err := yaml.Unmarshal([]byte(bv), &b); err != nil {
			t.Fatalf("base ConfigMap %s: %v", k, err)
		}
		if err := yaml.Unmarshal([]byte(helm.Data[k]), &h); err != nil {
			t.Fatalf("rendered ConfigMap %s: %v", k, err)
		}
		same(t, "ConfigMap "+k, b, h)
	}
}

// helmOverrides changes every value that the tests can see in a render
// which keeps the HPA and the PDB on.
const helmOverrides = `
image: {repository: registry.example/spotify-pixel-transformer, tag: "1.2.3"}
ports: {http: 8081, metrics: 9191}
service: {type: NodePort, port: 80, metricsPort: 9100}
resources:
  requests: {cpu: 200m, memory: 128Mi}
  limits: {cpu: "2", memory: 512Mi}
goMemLimit: 400MiB
logFormat: console
preStopSleepSeconds: 7
drainDelaySeconds: 3
shutdownGraceSeconds: 25
terminationGracePeriodSeconds: 40
extraArgs: ["-max-body-bytes=5242880"]
extraEnv: [{name: TZ, value: UTC}]
auth: {secretName: pixel-token, secretKey: bearer}
readinessProbe: {periodSeconds: 3, timeoutSeconds: 1, failureThreshold: 4}
autoscaling: {minReplicas: 3, maxReplicas: 6, targetCPUUtilizationPercentage: 60}
podDisruptionBudget: {minAvailable: null, maxUnavailable: 1}
destinations: |
  shop:
    Config:
      pixelId: "11111111-1111-4111-8111-111111111111"
      eventFilteringOption: disable
`

// TestHelmRendersPassManifestChecks runs every cross-manifest check of the
// base (consistency_test.go, the scrape config's relabeling) on the
// default render and on one with helmOverrides.
func TestHelmRendersPassManifestChecks(t *testing.T) {
	for name, overrides := range map[string]string{"defaults": "", "overrides": helmOverrides} {
		m := loadHelm(t, "edge", overrides)
		for _, c := range manifestChecks {
			t.Run(name+"/"+c.name, func(t *testing.T) { c.check(t, m) })
		}
	}
}

// TestHelmOverriddenValues renders helmOverrides as the release "edge" and
// requires each value where the chart puts it.
func TestHelmOverriddenValues(t *testing.T) {
	m := loadHelm(t, "edge", helmOverrides)
	const name = "edge-spotify-pixel-transformer"
	for kind, got := range map[string]string{
		"Deployment": m.deploy.Name, "Service": m.svc.Name, "HPA": objectMeta(t, m.hpa).Name,
		"PDB": objectMeta(t, m.pdb).Name, "ConfigMap": objectMeta(t, m.cm).Name,
	} {
		want := name
		if kind == "ConfigMap" {
			want = name + "-destinations"
		}
		if got != want {
			t.Errorf("%s name %q, want %q", kind, got, want)
		}
	}
	if got := m.deploy.Spec.Selector.MatchLabels["app.kubernetes.io/instance"]; got != "edge" {
		t.Errorf("Deployment selector app.kubernetes.io/instance=%q, want edge", got)
	}
	c := m.container()
	if c.Image != "registry.example/spotify-pixel-transformer:1.2.3" {
		t.Errorf("image %q", c.Image)
	}
	flags := parseArgs(t, c.Args[1:])
	for flag, want := range map[string]string{
		"listen": ":8081", "metrics-listen": ":9191", "log-format": "console",
		"shutdown-grace": "25s", "drain-delay": "3s", "max-body-bytes": "5242880",
	} {
		if flags[flag] != want {
			t.Errorf("-%s=%q, want %q", flag, flags[flag], want)
		}
	}
	ports := containerPortsByName(c)
	if ports[httpPortName].ContainerPort != 8081 || ports[metricsPortName].ContainerPort != 9191 {
		t.Errorf("container ports %v, want http 8081 and metrics 9191", c.Ports)
	}
	svcPorts := map[string]int32{}
	for _, p := range m.svc.Spec.Ports {
		svcPorts[p.Name] = p.Port
	}
	if m.svc.Spec.Type != corev1.ServiceTypeNodePort || svcPorts[httpPortName] != 80 || svcPorts[metricsPortName] != 9100 {
		t.Errorf("Service %s ports %v, want NodePort with http 80 and metrics 9100", m.svc.Spec.Type, svcPorts)
	}
	wantRes := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("512Mi")},
	}
	if !equality.Semantic.DeepEqual(c.Resources, wantRes) {
		t.Errorf("resources %v, want %v", c.Resources, wantRes)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if env["GOMEMLIMIT"].Value != "400MiB" || env["TZ"].Value != "UTC" {
		t.Errorf("env GOMEMLIMIT=%q TZ=%q, want 400MiB and UTC", env["GOMEMLIMIT"].Value, env["TZ"].Value)
	}
	if ref := env["TRANSFORMER_AUTH_TOKEN"].ValueFrom; ref == nil || ref.SecretKeyRef == nil ||
		ref.SecretKeyRef.Name != "pixel-token" || ref.SecretKeyRef.Key != "bearer" {
		t.Errorf("TRANSFORMER_AUTH_TOKEN comes from %+v, want Secret pixel-token key bearer", ref)
	}
	if p := c.ReadinessProbe; p.PeriodSeconds != 3 || p.TimeoutSeconds != 1 || p.FailureThreshold != 4 || p.HTTPGet.Path != readinessPath {
		t.Errorf("readiness probe %+v", p)
	}
	if s := c.Lifecycle.PreStop.Sleep; s == nil || s.Seconds != 7 {
		t.Errorf("preStop sleep %+v, want 7s", s)
	}
	if g := m.deploy.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g != 40 {
		t.Errorf("terminationGracePeriodSeconds %v, want 40", g)
	}
	hpa := m.hpa.Spec
	if *hpa.MinReplicas != 3 || hpa.MaxReplicas != 6 || *hpa.Metrics[0].Resource.Target.AverageUtilization != 60 {
		t.Errorf("HPA %d..%d at %d%%, want 3..6 at 60%%", *hpa.MinReplicas, hpa.MaxReplicas, *hpa.Metrics[0].Resource.Target.AverageUtilization)
	}
	if p := m.pdb.Spec; p.MinAvailable != nil || p.MaxUnavailable == nil || p.MaxUnavailable.String() != "1" {
		t.Errorf("PDB minAvailable %v maxUnavailable %v, want only maxUnavailable 1", p.MinAvailable, p.MaxUnavailable)
	}
	ids := validateDestinations(t, "rendered ConfigMap", []byte(m.cm.Data["destinations.yaml"]))
	if !reflect.DeepEqual(ids, []string{"shop"}) {
		t.Errorf("rendered destinations %v, want only [shop]: the values' text replaces the demo", ids)
	}
}

// TestHelmWithoutAutoscalingOrConfigMap renders with the HPA, the PDB, the
// ConfigMap and the spread switched off and an image digest: the Deployment
// then sets the replica count and mounts the named ConfigMap.
func TestHelmWithoutAutoscalingOrConfigMap(t *testing.T) {
	m := loadHelm(t, "spotify-pixel-transformer-canary", `
autoscaling: {enabled: false}
replicaCount: 4
podDisruptionBudget: {enabled: false}
existingConfigMap: my-destinations
spreadAcrossNodes: false
image: {digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
`)
	if m.hpa != nil || m.pdb != nil || m.cm != nil {
		t.Errorf("rendered HPA %v, PDB %v, ConfigMap %v; want none", m.hpa != nil, m.pdb != nil, m.cm != nil)
	}
	if m.deploy.Name != "spotify-pixel-transformer-canary" {
		t.Errorf("Deployment name %q: a release name that holds the chart's name is used as it is", m.deploy.Name)
	}
	if r := m.deploy.Spec.Replicas; r == nil || *r != 4 {
		t.Errorf("replicas %v, want 4", r)
	}
	var cmName string
	for _, v := range m.deploy.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			cmName = v.ConfigMap.Name
		}
	}
	if cmName != "my-destinations" {
		t.Errorf("the destinations volume mounts ConfigMap %q, want my-destinations", cmName)
	}
	if n := len(m.deploy.Spec.Template.Spec.TopologySpreadConstraints); n != 0 {
		t.Errorf("%d topologySpreadConstraints, want none", n)
	}
	if want := "spotify-pixel-transformer@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"; m.container().Image != want {
		t.Errorf("image %q, want %q", m.container().Image, want)
	}
}

// TestHelmRejectsBadValues checks that the render fails, naming the value,
// where the result would be wrong in the cluster: a shutdown budget the
// kubelet cuts short, a PDB with both bounds, destinations that are no
// YAML map.
func TestHelmRejectsBadValues(t *testing.T) {
	for overrides, want := range map[string]string{
		"terminationGracePeriodSeconds: 25":            "terminationGracePeriodSeconds (25) must exceed",
		"drainDelaySeconds: 10":                        "terminationGracePeriodSeconds (35) must exceed",
		"podDisruptionBudget: {maxUnavailable: 1}":     "not both",
		"podDisruptionBudget: {minAvailable: null}":    "set minAvailable or maxUnavailable",
		"destinations: ''":                             "destinations must hold destinations.yaml",
		"destinations: 'demo: ['":                      "destinations is not YAML",
		"destinations: {demo: {Config: {pixelId: x}}}": "not a map",
		"destinations: \"- a\\n- b\\n\"":               "destinations is not YAML",
	} {
		_, err := renderChart("spotify-pixel-transformer", overrides)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("values %q: render error %v, want one containing %q", overrides, err, want)
		}
	}
}
