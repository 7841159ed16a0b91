package deploy

import (
	"net"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestServiceMatchesDeployment checks that the Deployment and the Service
// select the Deployment's pods, that every Service port targets a container
// port by name with the same protocol, and that both have the http and
// metrics ports.
func TestServiceMatchesDeployment(t *testing.T) { checkServiceMatchesDeployment(t, loadBase(t)) }

// checkServiceMatchesDeployment is TestServiceMatchesDeployment on any set of manifests (the base or a Helm render).
func checkServiceMatchesDeployment(t *testing.T, m *manifests) {
	t.Helper()
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

// TestProbesUseNamedContainerPorts checks that the liveness and readiness
// probes (and the startup probe, if any) are httpGet probes on the named http
// container port with the docs/BEHAVIOUR.md §7 paths.
func TestProbesUseNamedContainerPorts(t *testing.T) {
	checkProbesUseNamedContainerPorts(t, loadBase(t))
}

// checkProbesUseNamedContainerPorts is TestProbesUseNamedContainerPorts on any set of manifests (the base or a Helm render).
func checkProbesUseNamedContainerPorts(t *testing.T, m *manifests) {
	t.Helper()
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
			t.Errorf("%s probe path %q, want %q (docs/BEHAVIOUR.md §7)", what, p.HTTPGet.Path, wantPath)
		}
	}
	check("liveness", c.LivenessProbe, livenessPath, true)
	check("readiness", c.ReadinessProbe, readinessPath, true)
	check("startup", c.StartupProbe, livenessPath, false)
}

// TestListenArgsMatchContainerPorts checks that the container runs `serve`
// through the image's ENTRYPOINT, that -listen and -metrics-listen bind the
// http and metrics container ports on every interface, that no container
// port is left unbound, and that -log-format is set.
func TestListenArgsMatchContainerPorts(t *testing.T) {
	checkListenArgsMatchContainerPorts(t, loadBase(t))
}

// checkListenArgsMatchContainerPorts is TestListenArgsMatchContainerPorts on any set of manifests (the base or a Helm render).
func checkListenArgsMatchContainerPorts(t *testing.T, m *manifests) {
	t.Helper()
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

// TestHPAAndPDBTargetDeployment checks that the HPA scales the Deployment
// (which sets no replica count) on CPU between at least 2 replicas and its
// maximum, and that the PDB selects the Deployment's pods and still lets one
// of them be evicted.
func TestHPAAndPDBTargetDeployment(t *testing.T) { checkHPAAndPDBTargetDeployment(t, loadBase(t)) }

// checkHPAAndPDBTargetDeployment is TestHPAAndPDBTargetDeployment on any set of manifests (the base or a Helm render).
func checkHPAAndPDBTargetDeployment(t *testing.T, m *manifests) {
	t.Helper()
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

// TestDestinationsComeFromConfigMap checks that -destinations is an absolute
// path into the ConfigMap's volume (mounted read-only, without subPath) and
// that the ConfigMap data there is a valid destinations file with at least
// one destination.
func TestDestinationsComeFromConfigMap(t *testing.T) {
	checkDestinationsComeFromConfigMap(t, loadBase(t))
}

// checkDestinationsComeFromConfigMap is TestDestinationsComeFromConfigMap on any set of manifests (the base or a Helm render).
func checkDestinationsComeFromConfigMap(t *testing.T, m *manifests) {
	t.Helper()
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

// TestSecurityContext checks the pod and container security context: non-root,
// read-only root filesystem, no privilege escalation, all capabilities
// dropped, RuntimeDefault seccomp, and no service account token.
func TestSecurityContext(t *testing.T) { checkSecurityContext(t, loadBase(t)) }

// checkSecurityContext is TestSecurityContext on any set of manifests (the base or a Helm render).
func checkSecurityContext(t *testing.T, m *manifests) {
	t.Helper()
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

// TestGracefulShutdownBudget checks that the preStop hook is a sleep action
// and that terminationGracePeriodSeconds exceeds the preStop sleep plus
// -drain-delay plus -shutdown-grace.
func TestGracefulShutdownBudget(t *testing.T) { checkGracefulShutdownBudget(t, loadBase(t)) }

// checkGracefulShutdownBudget is TestGracefulShutdownBudget on any set of manifests (the base or a Helm render).
func checkGracefulShutdownBudget(t *testing.T, m *manifests) {
	t.Helper()
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
		if int64(c.ReadinessProbe.PeriodSeconds) > pre.Sleep.Seconds {
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

// TestResourcesAndEnv checks that CPU and memory have a request no larger
// than their limit, that no env variable is set twice, that
// TRANSFORMER_AUTH_TOKEN comes from an optional Secret, and that GOMEMLIMIT
// (if set) is below the memory limit.
func TestResourcesAndEnv(t *testing.T) { checkResourcesAndEnv(t, loadBase(t)) }

// checkResourcesAndEnv is TestResourcesAndEnv on any set of manifests (the base or a Helm render).
func checkResourcesAndEnv(t *testing.T, m *manifests) {
	t.Helper()
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

// defaultMaxBodyBytes is the serve default of -max-body-bytes.
const defaultMaxBodyBytes = 10 << 20

// checkMemoryBudget reads the body budget the binary runs with
// (spotify_transformer_body_budget_bytes) and requires the manifest's
// memory numbers to agree with it: the budget holds a body of
// -max-body-bytes, is at most a quarter of GOMEMLIMIT (the rest is for
// responses, pools and the GC), and GOMEMLIMIT is below the memory limit
// (TestResourcesAndEnv), so that bodies alone can never reach it.
func checkMemoryBudget(t *testing.T, m *manifests, series []promSeries) {
	t.Helper()
	budget := -1.0
	for _, s := range series {
		if s.name == "spotify_transformer_body_budget_bytes" {
			budget = s.value
		}
	}
	if budget <= 0 {
		t.Fatalf("spotify_transformer_body_budget_bytes is %v: the binary runs without a body budget", budget)
	}
	c := m.container()
	maxBody := int64(defaultMaxBodyBytes)
	if v, ok := parseArgs(t, c.Args[1:])["max-body-bytes"]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("-max-body-bytes %q: %v", v, err)
		}
		maxBody = n
	}
	if budget < float64(maxBody) {
		t.Errorf("body budget %v is below -max-body-bytes %d: the largest body could never be served", budget, maxBody)
	}
	for _, e := range c.Env {
		if e.Name != "GOMEMLIMIT" {
			continue
		}
		limit, err := parseGoMemLimit(e.Value)
		if err != nil {
			t.Fatalf("GOMEMLIMIT %q: %v", e.Value, err)
		}
		if budget > float64(limit)/4 {
			t.Errorf("body budget %v is more than a quarter of GOMEMLIMIT %s", budget, e.Value)
		}
		return
	}
	t.Error("the container sets no GOMEMLIMIT: the body budget is not tied to the memory limit")
}

// manifestChecks are the cross-manifest checks by name, run on the
// Kustomize base by the Test functions above and on Helm renders by
// helm_test.go.
var manifestChecks = []struct {
	name  string
	check func(*testing.T, *manifests)
}{
	{"ServiceMatchesDeployment", checkServiceMatchesDeployment},
	{"ProbesUseNamedContainerPorts", checkProbesUseNamedContainerPorts},
	{"ListenArgsMatchContainerPorts", checkListenArgsMatchContainerPorts},
	{"HPAAndPDBTargetDeployment", checkHPAAndPDBTargetDeployment},
	{"DestinationsComeFromConfigMap", checkDestinationsComeFromConfigMap},
	{"SecurityContext", checkSecurityContext},
	{"GracefulShutdownBudget", checkGracefulShutdownBudget},
	{"ResourcesAndEnv", checkResourcesAndEnv},
	{"ScrapeConfigKeepsMetricsPort", checkScrapeConfigKeepsMetricsPort},
}
