package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// kustomization is the part of kustomization.yaml this test understands.
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

// readKustomization decodes k8s/base/kustomization.yaml strictly.
func readKustomization(t *testing.T) kustomization {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(baseDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	return k
}

// TestKustomizationListsEveryFile checks that kustomization.yaml lists each
// YAML file of k8s/base once, lists no missing file, and that its images
// override the container's image.
func TestKustomizationListsEveryFile(t *testing.T) {
	k := readKustomization(t)
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
