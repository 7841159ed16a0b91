package spotify

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/testkit/corpus"
)

// benchEvents is the size of the mixed batch the throughput benchmarks use.
const benchEvents = 2000

// benchBatch returns the corpus batch body, its batch array and the total
// bytes of its events (what b.SetBytes reports, so that the MB/s of
// BenchmarkTransform and BenchmarkValidate compare directly).
func benchBatch(tb testing.TB) (body []byte, batch gjson.Result, eventBytes int64) {
	tb.Helper()
	events := corpus.Events(1, benchEvents)
	for _, e := range events {
		eventBytes += int64(len(e))
	}
	body = corpus.Batch(events)
	batch = gjson.GetBytes(body, "batch")
	if !batch.IsArray() {
		tb.Fatal("the corpus body has no batch")
	}
	return body, batch, eventBytes
}

func benchTransformer(tb testing.TB, rawConfig []byte) *Transformer {
	tb.Helper()
	cfg, err := ParseConfig(rawConfig)
	if err != nil {
		tb.Fatal(err)
	}
	return NewTransformer(cfg, Options{Beacons: true})
}

// BenchmarkTransformCalls is BenchmarkTransform without beacons: the
// decisions and the calls alone, as an edge script that fires spdt asks.
func BenchmarkTransformCalls(b *testing.B) {
	_, batch, eventBytes := benchBatch(b)
	tr := benchTransformer(b, corpus.Config())
	tr.Reset(tr.Config(), Options{})
	out, _ := tr.AppendResponse(nil, "bench", batch)
	b.SetBytes(eventBytes)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, _ = tr.AppendResponse(out[:0], "bench", batch)
	}
}

// heapBytes returns the process's cumulative bytes allocated on the heap.
func heapBytes() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// mallocs returns the process's cumulative heap allocation count.
func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// BenchmarkTransform runs the engine over a realistic mixed batch, response
// included, as the /transform handler does (minus HTTP).
func BenchmarkTransform(b *testing.B) {
	_, batch, eventBytes := benchBatch(b)
	tr := benchTransformer(b, corpus.Config())
	out, sum := tr.AppendResponse(nil, "bench", batch) // warm-up: grow every buffer
	if sum.Events != benchEvents || sum.OK == 0 || sum.Filtered == 0 {
		b.Fatalf("unexpected summary %+v", sum)
	}
	b.SetBytes(eventBytes)
	b.ReportAllocs()
	b.ResetTimer()
	before, beforeBytes := mallocs(), heapBytes()
	for i := 0; i < b.N; i++ {
		out, _ = tr.AppendResponse(out[:0], "bench", batch)
	}
	after, afterBytes := mallocs(), heapBytes()
	b.StopTimer()
	events := float64(b.N) * benchEvents
	b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(after-before)/events, "allocs/event")
	b.ReportMetric(float64(afterBytes-beforeBytes)/events, "B/event")
	b.ReportMetric(float64(len(out))/float64(eventBytes), "outB/inB")
}

// BenchmarkValidate is the baseline: only checking that the same bytes are
// JSON. The ratio of BenchmarkTransform's MB/s to this one's is the engine's
// cost in units of "reading the input once".
func BenchmarkValidate(b *testing.B) {
	body, _, eventBytes := benchBatch(b)
	if !gjson.ValidBytes(body) {
		b.Fatal("corpus batch is not valid JSON")
	}
	b.SetBytes(eventBytes)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !gjson.ValidBytes(body) {
			b.Fatal("invalid")
		}
	}
}

// benchOne transforms one event per iteration, result included, cycling
// through events.
func benchOne(b *testing.B, tr *Transformer, events []string, want Status) {
	b.Helper()
	var total int64
	for _, e := range events {
		total += int64(len(e))
		if o := tr.Transform(e); o.Status != want {
			b.Fatalf("status %v (%s), want %v for %s", o.Status, o.Reason(), want, e)
		}
	}
	out := tr.AppendResult(nil, 0)
	b.SetBytes(total / int64(len(events)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr.Transform(events[i%len(events)])
		out = tr.AppendResult(out[:0], i)
	}
}

// BenchmarkTransformFiltered measures the cheapest path: identify events,
// filtered by type.
func BenchmarkTransformFiltered(b *testing.B) {
	var events []string
	for seed := uint64(1); seed <= 16; seed++ {
		events = append(events, string(corpus.Identify(seed)))
	}
	benchOne(b, benchTransformer(b, corpus.Config()), events, StatusFiltered)
}

// BenchmarkTransformPurchase measures the widest common event: an Order
// Completed with 20 products (line items, alias, beacon).
func BenchmarkTransformPurchase(b *testing.B) {
	events := []string{string(corpus.Purchase(1, 20))}
	tr := benchTransformer(b, []byte(`{"pixelId":"px","enableAliasCall":true}`))
	benchOne(b, tr, events, StatusOK)
}

// TestFilteredEventAllocs pins that rejecting an event costs no allocation
// once the Transformer's buffers are warm.
func TestFilteredEventAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are not meaningful in -short runs")
	}
	cfg, err := ParseConfig([]byte(`{"pixelId":"px","enableAliasCall":true,
		"eventFilteringOption":"blacklistedEvents",
		"blacklistedEvents":[{"eventName":"Heartbeat"},{"eventName":"Internal Test Event"}],
		"eventsToSpotifyPixelEvents":[{"from":"Signed Up","to":"signup"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTransformer(cfg, Options{Beacons: true})
	identify := string(corpus.Identify(1))
	cases := []struct{ name, event, reason string }{
		{"identify", identify, "message type identify is not supported"},
		{"unmapped track", `{"type":"track","event":"Button Clicked","messageId":"m1","userId":"u1",
			"properties":{"button_id":"b1","price":3},"context":{"traits":{"email":"a@example.com"}},"integrations":{"All":true}}`,
			"no Spotify Pixel event mapped for Button Clicked"},
		{"denylisted track", `{"type":"track","event":" Heartbeat ","messageId":"m2","properties":{"interval_ms":30000}}`,
			`event "Heartbeat" is in the denylist`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := tr.Transform(c.event)
			if o.Status != StatusFiltered || o.Reason() != c.reason {
				t.Fatalf("status %v reason %q, want filtered %q", o.Status, o.Reason(), c.reason)
			}
			for range 10 { // warm-up
				tr.Transform(c.event)
			}
			if n := testing.AllocsPerRun(200, func() { tr.Transform(c.event) }); n != 0 {
				t.Errorf("Transform of a filtered %s allocates %v times per event, want 0", c.name, n)
			}
		})
	}
}

// BenchmarkCheck is the engine's own validator (Check) over the same bytes
// as BenchmarkValidate: the floor of any walk that checks every byte.
func BenchmarkCheck(b *testing.B) {
	body, _, eventBytes := benchBatch(b)
	s := string(body)
	if err := jsonscan.Check(s, jsonscan.MaxDepth); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(eventBytes)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if jsonscan.Check(s, jsonscan.MaxDepth) != nil {
			b.Fatal("invalid")
		}
	}
}

// BenchmarkTransformKinds times the engine per kind of event of the mixed
// corpus (page views, tracks that convert, tracks the filter or mappings
// drop), so that a change's cost can be pinned on the path it touched.
func BenchmarkTransformKinds(b *testing.B) {
	events := corpus.Events(1, benchEvents)
	tr := benchTransformer(b, corpus.Config())
	groups := map[string][]string{} // kind → events, in corpus order
	for _, e := range events {
		k := gjson.GetBytes(e, "type").Str
		if k == "track" {
			if tr.Transform(string(e)).Status == StatusOK {
				k = "conv"
			} else {
				k = "trackfiltered"
			}
		}
		groups[k] = append(groups[k], string(e))
	}
	for _, k := range []string{"page", "conv", "trackfiltered"} {
		evs := groups[k]
		b.Run(k, func(b *testing.B) {
			var n int64
			for _, e := range evs {
				n += int64(len(e))
			}
			res := gjson.Parse("[" + strings.Join(evs, ",") + "]")
			out, _ := tr.AppendResponse(nil, "x", res)
			b.SetBytes(n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out, _ = tr.AppendResponse(out[:0], "x", res)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(evs)), "ns/event")
		})
	}
}

// BenchmarkTransformCAPI is BenchmarkTransform with the Conversions API
// events of every ok result, as a response with include=capi carries them.
func BenchmarkTransformCAPI(b *testing.B) {
	_, batch, eventBytes := benchBatch(b)
	tr := benchTransformer(b, corpus.Config())
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr.Reset(tr.Config(), Options{Beacons: true, CAPI: true, Now: func() time.Time { return now }})
	out, _ := tr.AppendResponse(nil, "bench", batch)
	if !bytes.Contains(out, []byte(`"capi":[{`)) {
		b.Fatal("no Conversions API events in the response")
	}
	b.SetBytes(eventBytes)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, _ = tr.AppendResponse(out[:0], "bench", batch)
	}
}
