package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/corpus"
	"spotifypixel/internal/destinations"
	"spotifypixel/internal/spotify"
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
		got, sum, err := Transform(nil, set, body, Query{DestinationID: "demo", Include: "beacons"})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := spotify.ParseRequest(body)
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
	out, sum, err := Transform(nil, demoSet(t), body, Query{DestinationID: "demo"})
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
		_, _, err := Transform(nil, set, []byte(c.body), c.q)
		if apperr.CodeOf(err) != c.code || err == nil {
			t.Errorf("%s %+v: %v (code %v), want %v", c.body, c.q, err, apperr.CodeOf(err), c.code)
		}
	}
	out, _, err := Transform(nil, set, []byte(`{"destination":{"ID":"demo"},"batch":[]}`), Query{})
	if err != nil || !bytes.Contains(out, []byte(`"pixelId":"demo-pixel"`)) {
		t.Errorf("inline ID without Config: %v %s", err, out)
	}
	out, _, err = Transform(nil, set, []byte(`{"destination":{"ID":"mine","Config":{"pixelId":"p"}},"batch":[]}`), Query{DestinationID: "demo"})
	if err != nil || !bytes.Contains(out, []byte(`"destinationId":"mine","pixelId":"p"`)) {
		t.Errorf("inline Config wins: %v %s", err, out)
	}
}
