package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDockerfile checks the Dockerfile as text (no Docker engine is needed):
// its build and runtime stages, the lines that build with scripts/build.sh,
// ship the example destinations and run `transformer serve` as non-root, the
// EXPOSEd container ports, and that scripts/build.sh builds ./cmd/transformer.
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
	if len(froms) > 0 {
		checkGoImage(t, froms[0])
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

// checkGoImage checks that the build stage's image is the Go release that
// go.mod's toolchain line names, so that an image never builds with an
// older standard library than developers and CI do.
func checkGoImage(t *testing.T, from string) {
	t.Helper()
	mod, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^toolchain go(\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no toolchain line")
	}
	if want := "golang:" + string(m[1]); from != want && !strings.HasPrefix(from, want+"-") && !strings.HasPrefix(from, want+"@") {
		t.Errorf("Dockerfile builds FROM %s; go.mod's toolchain wants %s", from, want)
	}
}
