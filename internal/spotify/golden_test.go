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

var update = flag.Bool("update", false, "rewrite the expected results of testdata/golden from the engine")

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

// runGolden transforms the case's event at batch index 0.
func runGolden(c *goldenCase) []byte {
	cfg, _ := ParseConfig(c.Config)
	now := goldenNow
	if c.Now != "" {
		now = c.Now
	}
	clock, err := time.Parse(time.RFC3339Nano, now)
	if err != nil {
		panic("golden case " + c.Name + ": bad now: " + err.Error())
	}
	tr := NewTransformer(cfg, Options{
		Beacons: strings.Contains(c.Include, "beacons"),
		CAPI:    strings.Contains(c.Include, "capi"),
		Now:     func() time.Time { return clock },
	})
	tr.Transform(string(c.Event))
	return tr.AppendResult(nil, 0)
}

func TestGolden(t *testing.T) {
	cases := loadGolden(t)
	if len(cases) < 80 {
		t.Errorf("only %d golden cases, want at least 80", len(cases))
	}
	for file, c := range cases {
		t.Run(filepath.Base(file), func(t *testing.T) {
			got := runGolden(c)
			if !json.Valid(got) {
				t.Fatalf("engine output is not valid JSON: %s", got)
			}
			if *update {
				c.Expected = got
				writeGolden(t, file, c)
				return
			}
			if g, w := normalize(t, got), normalize(t, c.Expected); !reflect.DeepEqual(g, w) {
				t.Errorf("%s\n got: %s\nwant: %s", c.Name, indent(got), indent(c.Expected))
			}
		})
	}
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

func indent(b []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, b, "", "  ") != nil {
		return string(b)
	}
	return buf.String()
}
