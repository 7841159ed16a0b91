package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// expectedKinds maps each kind the base may hold to its one apiVersion.
var expectedKinds = map[string]schema.GroupVersion{
	"Deployment":              appsv1.SchemeGroupVersion,
	"Service":                 corev1.SchemeGroupVersion,
	"ConfigMap":               corev1.SchemeGroupVersion,
	"HorizontalPodAutoscaler": autoscalingv2.SchemeGroupVersion,
	"PodDisruptionBudget":     policyv1.SchemeGroupVersion,
}

// strictDecoder decodes YAML into the API types of expectedKinds, failing on
// unknown fields, fields in the wrong case and duplicate keys.
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

// manifests holds the one object of each kind that k8s/base defines.
type manifests struct {
	deploy *appsv1.Deployment
	svc    *corev1.Service
	cm     *corev1.ConfigMap
	hpa    *autoscalingv2.HorizontalPodAutoscaler
	pdb    *policyv1.PodDisruptionBudget
}

// addDocs decodes the YAML documents of file strictly into m, requiring
// one object of each kind across the files (seen: kind → its file).
func (m *manifests) addDocs(t *testing.T, dec runtime.Decoder, seen map[string]string, file string, docs [][]byte) {
	t.Helper()
	for i, doc := range docs {
		obj, err := decodeObject(dec, doc)
		if err != nil {
			t.Fatalf("%s (document %d): %v\n%s", file, i+1, err, doc)
		}
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		if prev, dup := seen[kind]; dup {
			t.Fatalf("%s: a second %s (the first is in %s); this test expects one of each", file, kind, prev)
		}
		seen[kind] = file
		if err := m.add(obj); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
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
		m.addDocs(t, dec, seen, f, docs)
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

// add keeps obj in the field of its kind, so that the Kustomize base and
// the Helm render fill the same struct.
func (m *manifests) add(obj runtime.Object) error {
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
		return fmt.Errorf("unexpected Go type %T", obj)
	}
	return nil
}

// container is the Deployment's only container.
func (m *manifests) container() *corev1.Container { return &m.deploy.Spec.Template.Spec.Containers[0] }

// baseYAMLFiles lists the YAML files of k8s/base other than the
// kustomization, sorted by name.
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

// TestStrictDecoderRejectsBadDocuments checks that the decoder is strict (or
// the rest of these tests prove little): unknown fields, fields in the wrong
// case, duplicate keys, wrong value types, unknown kinds and wrong
// apiVersions are all errors.
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

// TestManifestsDecodeStrictly checks that every document of k8s/base decodes
// strictly and that the base holds exactly one object of each expected kind.
func TestManifestsDecodeStrictly(t *testing.T) {
	m := loadBase(t)
	t.Logf("decoded Deployment %s, Service %s, ConfigMap %s, HPA %s, PDB %s",
		m.deploy.Name, m.svc.Name, m.cm.Name, m.hpa.Name, m.pdb.Name)
}
