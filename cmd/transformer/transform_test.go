package main

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

var update = flag.Bool("update", false, "rewrite testdata/demo-response.json from the program's output")

func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(t.Context(), args, func(string) string { return "" }, strings.NewReader(stdin), &out)
	return out.String(), err
}

// TestTransformDemoBatch is the README's first command, checked against a
// readable golden response.
func TestTransformDemoBatch(t *testing.T) {
	got, err := runCLI(t, "", "transform", "-pretty", "../../testdata/demo-batch.json")
	if err != nil {
		t.Fatal(err)
	}
	golden := "../../testdata/demo-response.json"
	if *update {
		writeFile(t, golden, got)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	unmarshal(t, []byte(got), &g)
	unmarshal(t, want, &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("transform output differs from %s (run with -update to regenerate deliberately):\n%s", golden, got)
	}
	var resp struct{ Summary map[string]int }
	unmarshal(t, []byte(got), &resp)
	if resp.Summary["ok"] == 0 || resp.Summary["filtered"] == 0 || resp.Summary["failed"] == 0 {
		t.Errorf("the demo batch should show every outcome: %v", resp.Summary)
	}
}

func TestTransformStdinAndFlags(t *testing.T) {
	body := `{"batch":[{"type":"track","event":"Signed Up","userId":"u1","messageId":"m"}]}`
	got, err := runCLI(t, body, "transform", "-destination", "demo", "-include", "beacons", "-")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, `"beacon":"https://img.byspotify.com/?key=demo-pixel&a=lead&alias=`) {
		t.Errorf("output %s", got)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "d.yaml")
	writeFile(t, file, "shop:\n  Config:\n    pixelId: shop-pixel\n")
	got, err = runCLI(t, body, "transform", "-destinations", file, "-destination", "shop")
	if err != nil || !strings.Contains(got, `"pixelId":"shop-pixel"`) {
		t.Errorf("with a destinations file: %v %s", err, got)
	}
}

func TestTransformRefusesBadInput(t *testing.T) {
	cases := []struct {
		stdin string
		args  []string
		want  string
	}{
		{`{"destination":{"Config":{"enableAliasCall":true}},"batch":[]}`, nil, "pixelId is required"},
		{`{"batch":[]}`, []string{"-destination", "nope"}, `"nope"`},
		{`{"batch":`, []string{"-destination", "demo"}, "not valid JSON"},
		{`{"batch":[]}`, []string{"-destination", "demo", "-include", "everything"}, "everything"},
		{`{"batch":` + strings.Repeat("[", 2_000_000), []string{"-destination", "demo"}, "deeper than 1000 levels"},
	}
	for _, c := range cases {
		_, err := runCLI(t, c.stdin, append([]string{"transform"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) || exitCode(err) == 0 {
			t.Errorf("%s %v: err %v, want one naming %s", c.stdin, c.args, err, c.want)
		}
	}
	if _, err := runCLI(t, "", "transform", "a", "b"); err == nil || exitCode(err) != 2 {
		t.Errorf("two files: %v", err)
	}
}

// TestExplainEveryFront: ?explain=1 on a /transform batch, ?explain=true
// on an NDJSON stream and -explain on the CLI each give every result its
// trace, ending at the step that decided it; without it there is none.
func TestExplainEveryFront(t *testing.T) {
	s := startServer(t, nil)
	events := `{"type":"track","event":"Order Completed","messageId":"a","properties":{"total":3}}`
	unmapped := `{"type":"track","event":"Nothing","messageId":"b"}`
	lastStep := func(result gjson.Result) string {
		steps := result.Get("explain").Array()
		if len(steps) == 0 {
			return ""
		}
		l := steps[len(steps)-1]
		return l.Get("step").Str + " " + l.Get("verdict").Str
	}
	r := s.post("/transform?destination=demo&explain=1", batchOf(events, unmapped))
	res := gjson.GetBytes(r.body, "results").Array()
	if r.status != 200 || len(res) != 2 || lastStep(res[0]) != "beacon info" || lastStep(res[1]) != "mapping filtered" {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	if r := s.post("/transform?destination=demo", batchOf(events)); strings.Contains(string(r.body), `"explain"`) {
		t.Errorf("a trace without ?explain: %s", r.body)
	}
	st := s.do(http.MethodPost, "/transform?destination=demo&explain=true", "application/x-ndjson", []byte(unmapped+"\n{\n"))
	lines := strings.Split(strings.TrimSpace(string(st.body)), "\n")
	if st.status != 200 || len(lines) != 3 || lastStep(gjson.Parse(lines[0])) != "mapping filtered" || lastStep(gjson.Parse(lines[1])) != "input error" {
		t.Fatalf("stream: %d %s", st.status, st.body)
	}
	out, err := runCLI(t, batchOf(unmapped), "transform", "-destination", "demo", "-explain", "-")
	if err != nil || lastStep(gjson.Get(out, "results.0")) != "mapping filtered" {
		t.Fatalf("CLI: %v %s", err, out)
	}
}

// TestExplainRudderRoutes: ?explain=1 on the processor and router routes
// gives every reply entry the decision steps of its event.
func TestExplainRudderRoutes(t *testing.T) {
	s := startServer(t, nil)
	item := func(event string) string {
		return `{"message":` + event + `,"metadata":{"jobId":1},"destination":{"ID":"d","Config":{"pixelId":"px"}}}`
	}
	ok, unmapped := item(`{"type":"page","messageId":"a"}`), item(`{"type":"track","event":"Nothing","messageId":"b"}`)
	p := s.post("/v0/destinations/spotify_pixel?explain=1", "["+ok+","+unmapped+"]")
	entries := gjson.ParseBytes(p.body).Array()
	if p.status != 200 || len(entries) != 2 || !entries[0].Get("explain").IsArray() ||
		entries[1].Get("explain.#(step==\"mapping\").verdict").Str != "filtered" {
		t.Fatalf("processor: %d %s", p.status, p.body)
	}
	rt := s.post("/routerTransform?explain=1", `{"destType":"SPOTIFY_PIXEL","input":[`+ok+`]}`)
	if rt.status != 200 || gjson.GetBytes(rt.body, "output.0.explain.#(step==\"type\").verdict").Str != "pass" {
		t.Fatalf("router: %d %s", rt.status, rt.body)
	}
	if plain := s.post("/v0/destinations/spotify_pixel", "["+ok+"]"); strings.Contains(string(plain.body), `"explain"`) {
		t.Errorf("a trace without ?explain: %s", plain.body)
	}
}

// TestOutcomesByDestinationAndReason: events are counted by destination,
// status and the kind of reason, and undelivered events get a sampled debug
// line each, with the reason and never the event's ids.
func TestOutcomesByDestinationAndReason(t *testing.T) {
	s := startServer(t, map[string]string{"TRANSFORMER_LOG_LEVEL": "debug"})
	ok := `{"type":"page","messageId":"m-ok"}`
	unmapped := `{"type":"track","event":"Nothing","messageId":"secret-message"}`
	identify := `{"type":"identify","messageId":"m-id"}`
	start := time.Now()
	const requests = 40
	for range requests {
		if r := s.post("/transform?destination=demo", batchOf(ok, unmapped, identify)); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	elapsed := time.Since(start)
	if r := s.post("/transform", `{"destination":{"Config":{"pixelId":"p"}},"batch":[`+unmapped+`]}`); r.status != 200 {
		t.Fatalf("inline: %d %s", r.status, r.body)
	}
	fams := s.metrics()
	for labels, want := range map[[3]string]float64{
		{"demo", "ok", "none"}:            requests,
		{"demo", "filtered", "mapping"}:   requests,
		{"demo", "filtered", "type"}:      requests,
		{"inline", "filtered", "mapping"}: 1,
	} {
		got := metricValue(fams, "spotify_transformer_event_outcomes_total", map[string]string{"destination": labels[0], "status": labels[1], "reason": labels[2]})
		if got != want {
			t.Errorf("event_outcomes_total%v = %v, want %v", labels, got, want)
		}
	}
	lines, mapped := 0, 0
	for _, l := range logLines(s.logs.String(), "event not delivered") {
		lines++
		if l["destination"] == "demo" && l["index"] == float64(1) && l["status"] == "filtered" &&
			l["reason"] == "no Spotify Pixel event mapped for Nothing" {
			mapped++
		}
	}
	// 80 undelivered events; zap's sampler keeps 5 lines a second: never
	// all of them unless the requests took 16 seconds or more.
	if bound := 5 * (int(elapsed/time.Second) + 2); mapped == 0 || lines > bound {
		t.Errorf("%d debug lines (%d for the unmapped event) over %v, want 1 to %d", lines, mapped, elapsed, bound)
	}
	if strings.Contains(s.logs.String(), "secret-message") {
		t.Error("a log line holds an event's messageId")
	}
}
