package pipeline

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/destinations"
	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/spotify"
	"spotifypixel/internal/testkit/corpus"
)

func demoSet(t *testing.T) *destinations.Set {
	t.Helper()
	set, err := destinations.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestParallelMatchesSequential checks that the fan-out over cores gives
// byte for byte the response a single Transformer gives.
func TestParallelMatchesSequential(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	set := demoSet(t)
	for _, n := range []int{0, 1, 255, 256, 257, 1000, 3001} {
		events := corpus.Events(uint64(n), n)
		body := corpus.Batch(events)
		got, sum, err := new(Runner).Transform(nil, set, body, Query{DestinationID: "demo", Include: "beacons"})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := ParseOnePass(body, 0)
		d, _ := set.Get("demo")
		want, wantSum := spotify.NewTransformer(d.Config, spotify.Options{Beacons: true}).AppendResponse(nil, "demo", req.Batch)
		if !bytes.Equal(got, want) {
			t.Fatalf("n=%d: parallel output differs from sequential", n)
		}
		if sum != wantSum || sum.Events != n {
			t.Fatalf("n=%d: summary %+v, want %+v", n, sum, wantSum)
		}
		if !json.Valid(got) {
			t.Fatalf("n=%d: invalid JSON", n)
		}
	}
}

// TestRunnerSplitsOnlyWhenCoresAreIdle checks the split decision: a large
// batch is split when the Runner has at most half the cores busy, never
// when more are busy, and a small batch never is; each Runner counts only
// its own requests.
func TestRunnerSplitsOnlyWhenCoresAreIdle(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	large, err := ParseOnePass(corpus.Batch(corpus.Events(1, 400)), 0)
	if err != nil || len(large.Batch.Raw) < parallelBytes {
		t.Fatalf("the large batch is %d bytes (%v), want at least %d", len(large.Batch.Raw), err, parallelBytes)
	}
	small, _ := ParseOnePass(corpus.Batch(corpus.Events(1, 10)), 0)
	var busy, idle Runner
	for range 3 {
		busy.busy.Add(1)
	}
	for _, c := range []struct {
		r    *Runner
		req  *Request
		want bool
	}{{&idle, &large, true}, {&busy, &large, false}, {&idle, &small, false}} {
		if got := c.r.parallel(c.req); got != c.want {
			t.Errorf("busy %d, batch %d bytes: parallel = %v, want %v", c.r.busy.Load(), len(c.req.Batch.Raw), got, c.want)
		}
	}
}

// TestBadEventsDoNotFailTheBatch checks that events which are not objects
// or carry invalid UTF-8 each get their own error result, in order, and the
// batch still answers.
func TestBadEventsDoNotFailTheBatch(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	var events []string
	for i := range 600 {
		switch i % 3 {
		case 0:
			events = append(events, fmt.Sprintf(`{"type":"page","messageId":"m%d"}`, i))
		case 1:
			events = append(events, `"not an event"`)
		default:
			events = append(events, "{\"type\":\"track\",\"event\":\"Signed Up\",\"messageId\":\"bad\xff\"}")
		}
	}
	body := []byte(`{"batch":[` + strings.Join(events, ",") + `]}`)
	out, sum, err := new(Runner).Transform(nil, demoSet(t), body, Query{DestinationID: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Events != 600 || sum.OK != 200 || sum.Failed != 400 {
		t.Fatalf("summary %+v", sum)
	}
	var resp struct{ Results []struct{ Index int } }
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	for i, r := range resp.Results {
		if r.Index != i {
			t.Fatalf("result %d has index %d", i, r.Index)
		}
	}
}

func TestLimitsAndResolution(t *testing.T) {
	set := demoSet(t)
	cases := []struct {
		body string
		q    Query
		code apperr.Code
	}{
		{`{"batch":[{},{},{}]}`, Query{DestinationID: "demo", MaxEvents: 2}, apperr.TooLarge},
		{`{"batch":[]}`, Query{}, apperr.BadRequest},
		{`{"batch":[]}`, Query{DestinationID: "x"}, apperr.NotFound},
		{`{"destination":{"ID":"x"},"batch":[]}`, Query{}, apperr.NotFound},
		{`{"destination":{"Config":{"pixelId":5}},"batch":[]}`, Query{}, apperr.InvalidConfig},
		{`{"batch":[]}`, Query{DestinationID: "demo", Include: "beacons,bogus"}, apperr.BadRequest},
	}
	for _, c := range cases {
		_, _, err := new(Runner).Transform(nil, set, []byte(c.body), c.q)
		if apperr.CodeOf(err) != c.code || err == nil {
			t.Errorf("%s %+v: %v (code %v), want %v", c.body, c.q, err, apperr.CodeOf(err), c.code)
		}
	}
	out, _, err := new(Runner).Transform(nil, set, []byte(`{"destination":{"ID":"demo"},"batch":[]}`), Query{})
	if err != nil || !bytes.Contains(out, []byte(`"pixelId":"demo-pixel"`)) {
		t.Errorf("inline ID without Config: %v %s", err, out)
	}
	out, _, err = new(Runner).Transform(nil, set, []byte(`{"destination":{"ID":"mine","Config":{"pixelId":"p"}},"batch":[]}`), Query{DestinationID: "demo"})
	if err != nil || !bytes.Contains(out, []byte(`"destinationId":"mine","pixelId":"p"`)) {
		t.Errorf("inline Config wins: %v %s", err, out)
	}
}

// transformExact is Transform without the guess: the whole body is checked
// first and the batch found exactly, as when a guess fails.
func transformExact(set *destinations.Set, body []byte, q Query) ([]byte, spotify.Summary, error) {
	opts, err := q.Options()
	if err != nil {
		return nil, spotify.Summary{}, err
	}
	req, err := ParseChecked(body, q.MaxDepth)
	if err != nil {
		return nil, spotify.Summary{}, err
	}
	out, sum, err, _ := new(Runner).transformRequest(nil, set, &req, q, opts)
	return out, sum, err
}

// sameAnswer fails unless Transform (guessing where the batch ends and
// checking events as it transforms them) answers body exactly as a full
// check first does: the same bytes, summary and error.
func sameAnswer(t *testing.T, set *destinations.Set, body []byte, q Query) {
	t.Helper()
	got, gotSum, gotErr := new(Runner).Transform(nil, set, body, q)
	want, wantSum, wantErr := transformExact(set, body, q)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !bytes.Equal(got, want) || gotSum != wantSum {
		t.Fatalf("body %.200q:\nguessed: %v %.300s\n  exact: %v %.300s", body, gotErr, got, wantErr, want)
	}
}

// TestGuessAgreesWithExactParse: bodies where the guess holds, where it
// fails (members after the batch, a "]" in a string at the end, a second
// batch), and malformed ones, each mutated byte by byte (a byte dropped, a
// quote, a bracket or a comma put in its place).
func TestGuessAgreesWithExactParse(t *testing.T) {
	set := demoSet(t)
	events := corpus.Events(7, 4)
	batch := "[" + string(bytes.Join(events, []byte(","))) + "]"
	bodies := []string{
		`{"batch":` + batch + `}`,
		` {"destination":{"ID":"demo"}, "batch" : ` + batch + " } \n",
		`{"batch":` + batch + `,"destination":{"ID":"demo"}}`,
		`{"batch":` + batch + `,"x":["]"]}`,
		`{"batch":[{"type":"page"}],"batch":` + batch + `}`,
		`{"batch":[{"type":"page","properties":{"a":"]}"}}]}`,
		`{"x":1,"batch":[]}`,
		`{"batch":[1,"2",[3],null]}`,
		"\xef\xbb\xbf" + `{"batch":[{"type":"track","event":"Order Completed","properties":{"total":5}}]}`,
	}
	for _, q := range []Query{{DestinationID: "demo", Include: "beacons"}, {}, {DestinationID: "nope"}, {DestinationID: "demo", MaxEvents: 2}} {
		for _, b := range bodies {
			sameAnswer(t, set, []byte(b), q)
		}
	}
	q := Query{DestinationID: "demo", Include: "beacons"}
	small := `{"destination":{"ID":"demo"},"batch":[{"type":"page","messageId":"m1","properties":{"u":"x\"y","n":[1.5e3,true,null]}},{"type":"track","event":"Order Completed","properties":{"total":9.5,"currency":"EUR"}}]}`
	for i := range len(small) {
		for _, c := range []string{"", `"`, "]", "}", ",", "[", "\\", "\x01"} {
			sameAnswer(t, set, []byte(small[:i]+c+small[i+1:]), q)
		}
	}
}

// TestGuessAgreesOnLargeBatches: the same on batches split across cores,
// with a fault in the first, middle or last event.
func TestGuessAgreesOnLargeBatches(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	set := demoSet(t)
	body := corpus.Batch(corpus.Events(3, 600))
	q := Query{DestinationID: "demo", Include: "beacons"}
	sameAnswer(t, set, body, q)
	for _, at := range []int{12, len(body) / 2, len(body) - 40} {
		for _, c := range []byte{'"', ']', '}', '{', ',', 'x'} {
			bad := bytes.Clone(body)
			bad[at] = c
			sameAnswer(t, set, bad, q)
		}
	}
}

// TestNestingLimit: the body's nesting limit is the configured one, counted
// from the body (the body and the batch are two levels), on both the
// guessed and the exact paths, below and above the default of 1,000.
func TestNestingLimit(t *testing.T) {
	set := demoSet(t)
	body := func(levels int) []byte { // the whole body nests exactly levels deep
		inner := levels - 3 // body, batch, event
		return []byte(`{"batch":[{"type":"page","properties":{"x":` + strings.Repeat("[", inner-1) + strings.Repeat("]", inner-1) + `}}]}`)
	}
	for _, c := range []struct{ limit, levels int }{{50, 50}, {50, 51}, {0, 1000}, {0, 1001}, {3000, 2500}, {3000, 3001}} {
		for _, extra := range []string{"", ` `} {
			b := append(body(c.levels), extra...)
			_, sum, err := new(Runner).Transform(nil, set, b, Query{DestinationID: "demo", MaxDepth: c.limit})
			limit := cmp.Or(c.limit, jsonscan.MaxDepth)
			if c.levels <= limit {
				if err != nil || sum.OK != 1 {
					t.Errorf("limit %d, %d levels: %v %+v", c.limit, c.levels, err, sum)
				}
			} else if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("deeper than %d levels", limit)) {
				t.Errorf("limit %d, %d levels: %v, want too deep", c.limit, c.levels, err)
			}
			sameAnswer(t, set, b, Query{DestinationID: "demo", MaxDepth: c.limit})
		}
	}
}
