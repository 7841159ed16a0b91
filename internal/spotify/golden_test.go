package spotify

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var (
	update = flag.Bool("update", false, "rewrite the expected results of testdata/golden that differ from the engine's (files written by -update only, unless -force)")
	force  = flag.Bool("force", false, "with -update: also overwrite expectations written by hand")
)

// goldenCase is one file of testdata/golden: a config, an event and the
// result docs/BEHAVIOUR.md says the engine must give.
type goldenCase struct {
	Name     string          `json:"name"`
	Covers   []string        `json:"covers,omitempty"`
	Config   json.RawMessage `json:"config"`
	Include  string          `json:"include,omitempty"`
	Now      string          `json:"now,omitempty"` // the clock for CAPI event_time; default goldenNow
	Event    json.RawMessage `json:"event"`
	Expected json.RawMessage `json:"expected"`
	// Generated marks a file whose expected result -update wrote from the
	// engine: an independent, hand-written expectation is never overwritten
	// without -force.
	Generated bool `json:"generated,omitempty"`
}

func loadGolden(t testing.TB) map[string]*goldenCase {
	t.Helper()
	files, err := filepath.Glob("../../testdata/golden/*.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]*goldenCase{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c goldenCase
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cases[f] = &c
	}
	return cases
}

// goldenNow is the clock of golden cases that do not set "now".
const goldenNow = "2026-11-30T12:00:00Z"

// runGolden transforms the case's event, compacted, at batch index 0.
func runGolden(t testing.TB, c *goldenCase) []byte {
	t.Helper()
	var event bytes.Buffer
	if err := json.Compact(&event, c.Event); err != nil {
		t.Fatalf("%s: event: %v", c.Name, err)
	}
	cfg, _ := ParseConfig(c.Config)
	now := goldenNow
	if c.Now != "" {
		now = c.Now
	}
	clock, err := time.Parse(time.RFC3339Nano, now)
	if err != nil {
		t.Fatalf("golden case %s: bad now: %v", c.Name, err)
	}
	tr := NewTransformer(cfg, Options{
		Beacons: strings.Contains(c.Include, "beacons"),
		CAPI:    strings.Contains(c.Include, "capi"),
		Now:     func() time.Time { return clock },
	})
	tr.Transform(event.String())
	return tr.AppendResult(nil, 0)
}

// TestGolden requires the engine's exact output bytes for every case:
// key and parameter order, number text and string escapes are part of the
// contract. The event goes in compacted, so that the file's indentation
// never reaches a value the engine copies whole.
func TestGolden(t *testing.T) {
	cases := loadGolden(t)
	if len(cases) < 80 {
		t.Errorf("only %d golden cases, want at least 80", len(cases))
	}
	for file, c := range cases {
		t.Run(filepath.Base(file), func(t *testing.T) {
			got := runGolden(t, c)
			if !json.Valid(got) {
				t.Fatalf("engine output is not valid JSON: %s", got)
			}
			var want bytes.Buffer
			if err := json.Compact(&want, c.Expected); err != nil {
				t.Fatalf("expected: %v", err)
			}
			if bytes.Equal(got, want.Bytes()) {
				return
			}
			if *update {
				refreshGolden(t, file, c, got)
				return
			}
			same := ""
			if reflect.DeepEqual(normalize(t, got), normalize(t, c.Expected)) {
				same = " (the same JSON value: the bytes differ in order, spacing, escapes or number text)"
			}
			t.Errorf("%s%s\n got: %s\nwant: %s", c.Name, same, got, want.Bytes())
		})
	}
}

// refreshGolden rewrites a case's expected result from the engine, which
// -update may do only to a file it wrote before, or with -force.
func refreshGolden(t *testing.T, file string, c *goldenCase, got []byte) {
	t.Helper()
	if !c.Generated && !*force {
		t.Errorf("%s: expected result written by hand differs from the engine's; fix one of them, or overwrite it with -update -force\n got: %s", file, got)
		return
	}
	c.Expected = got
	c.Generated = true
	writeGolden(t, file, c)
}

func writeGolden(t *testing.T, file string, c *goldenCase) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// normalize decodes a result for comparison: numbers keep their text and
// beacons become their base and parsed query (docs/BEHAVIOUR.md §5 compares beacons so).
func normalize(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return normalizeBeacons(v)
}

func normalizeBeacons(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "beacon" {
				u, err := url.Parse(s)
				if err != nil {
					x[k] = "unparseable: " + s
					continue
				}
				x[k] = fmt.Sprintf("%s://%s%s %v", u.Scheme, u.Host, u.Path, u.Query())
				continue
			}
			x[k] = normalizeBeacons(e)
		}
	case []any:
		for i := range x {
			x[i] = normalizeBeacons(x[i])
		}
	}
	return v
}
