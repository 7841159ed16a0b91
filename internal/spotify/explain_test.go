package spotify

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// TestExplainSteps: each result's trace lists the steps in the order they
// ran, ends at the step that decided a filtered or failed event with the
// result's status and reason, and names fields without their values.
func TestExplainSteps(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{"pixelId":"px","enableAliasCall":true,"eventFilteringOption":"blacklistedEvents",
		"blacklistedEvents":[{"eventName":"Banned"}],"oneTrustCookieCategories":[{"oneTrustCookieCategory":"C1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		event, steps, last string
	}{
		{`{"type":"track","event":"Order Completed","userId":"secret-user","properties":{"total":5,"products":[{"price":1}]}}`,
			"shape config integrations consent type filter mapping alias params beacon", "beacon info"},
		{`{"type":"track","event":"Product Viewed","properties":{"products":[{"name":"a"},{"name":"b"}]}}`,
			"shape config integrations consent type filter mapping alias params params fan-out beacon", "beacon info"},
		{`{"type":"page","properties":{"a":1}}`, "shape config integrations consent type params beacon", "beacon info"},
		{`{"type":"track","event":"Banned"}`, "shape config integrations consent type filter", "filter filtered"},
		{`{"type":"track","event":"x","context":{"consentManagement":{"deniedConsentIds":["C1"]}}}`,
			"shape config integrations consent", "consent filtered"},
		{`{"type":"track","event":"x","integrations":{"All":false}}`, "shape config integrations", "integrations filtered"},
		{`{"type":"track","event":"Unmapped"}`, "shape config integrations consent type filter mapping", "mapping filtered"},
		{`{"type":"track"}`, "shape config integrations consent type filter name", "name error"},
		{`{"type":"identify"}`, "shape config integrations consent type", "type filtered"},
		{`{"type":7}`, "shape type", "type error"},
		{`[1]`, "shape", "shape error"},
	} {
		tr := NewTransformer(cfg, Options{Beacons: true, Explain: true})
		o := tr.Transform(c.event)
		res := tr.AppendResult(nil, 0)
		if !json.Valid(res) {
			t.Fatalf("%s: invalid JSON %s", c.event, res)
		}
		var steps []string
		var last gjson.Result
		gjson.GetBytes(res, "explain").ForEach(func(_, s gjson.Result) bool {
			steps = append(steps, s.Get("step").Str)
			last = s
			return true
		})
		if got := strings.Join(steps, " "); got != c.steps {
			t.Errorf("%s:\n steps %s\n want  %s", c.event, got, c.steps)
		}
		if got := last.Get("step").Str + " " + last.Get("verdict").Str; got != c.last {
			t.Errorf("%s: last step %q, want %q", c.event, got, c.last)
		}
		if o.Status != StatusOK && !strings.HasSuffix(last.Get("detail").Str, o.Reason()) {
			t.Errorf("%s: last detail %q, reason %q", c.event, last.Get("detail").Str, o.Reason())
		}
		if bytes.Contains(res, []byte("secret-user")) && strings.Contains(gjson.GetBytes(res, "explain").Raw, "secret-user") {
			t.Errorf("%s: the trace holds the user id", c.event)
		}
		if again := tr.AppendResult(nil, 0); !bytes.Equal(again, res) {
			t.Errorf("%s: a second rendering differs:\n%s\n%s", c.event, again, res)
		}
		// Without explain the result is the same bytes less the trace.
		plain := NewTransformer(cfg, Options{Beacons: true})
		plain.Transform(c.event)
		want := plain.AppendResult(nil, 0)
		trimmed := strings.Replace(string(res), `,"explain":`+gjson.GetBytes(res, "explain").Raw, "", 1)
		if trimmed != string(want) {
			t.Errorf("%s: with the trace removed\n%s\nwant\n%s", c.event, trimmed, want)
		}
	}
}

// TestSrcNames keeps the source names in step with the keys the walk reads.
func TestSrcNames(t *testing.T) {
	for k, name := range srcNames {
		if got, ok := srcOf(name); !ok || got != srcKey(k) {
			t.Errorf("srcNames[%d] = %q, which srcOf reads as %d, %v", k, name, got, ok)
		}
	}
}
