package rudder

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/spotify"
	"spotifypixel/internal/testkit/corpus"
)

// rudderServerBody builds a processor request the way rudder-server sends
// one: each event with the job metadata rudder-server fills (plus a key this
// service has never heard of, with a number spelling JSON libraries would
// rewrite) and the full destination.
func rudderServerBody(events [][]byte, config []byte) []byte {
	dest := `{"ID":"2Pdst","Name":"Spotify Pixel (cloud)","DestinationDefinition":{"ID":"2Pdef","Name":"SPOTIFY_PIXEL","DisplayName":"Spotify Pixel","Config":{}},` +
		`"Config":` + string(config) + `,"Enabled":true,"WorkspaceID":"2Pws","Transformations":[],"IsProcessorEnabled":true,"RevisionID":"2Prev"}`
	var b strings.Builder
	b.WriteByte('[')
	for i, ev := range events {
		if i > 0 {
			b.WriteByte(',')
		}
		msg := gjson.ParseBytes(ev)
		fmt.Fprintf(&b, `{"message":%s,"metadata":{"sourceId":"2Psrc","workspaceId":"2Pws","namespace":"","instanceId":"1",`+
			`"sourceType":"Javascript","sourceCategory":"","destinationId":"2Pdst","jobId":%d,"destinationType":"SPOTIFY_PIXEL",`+
			`"messageId":%s,"rudderId":"<<>>%s<<>>","receivedAt":"2026-11-30T10:00:00.000Z","eventName":%s,"eventType":%s,`+
			`"sourceDefinitionId":"1TW","destinationDefinitionId":"2Pdef","dontBatch":false,"futureKey":{"weight":1.50e0,"seq":[%d]}},`+
			`"destination":%s}`,
			ev, 1000+i, rawOr(msg.Get("messageId")), msg.Get("anonymousId").Str, rawOr(msg.Get("event")), rawOr(msg.Get("type")), i, dest)
	}
	b.WriteByte(']')
	return []byte(b.String())
}

func rawOr(v gjson.Result) string {
	if v.Exists() {
		return v.Raw
	}
	return `""`
}

// TestProcessorThousandEvents runs a realistic rudder-server-shaped request
// of 1,000 events and checks, against the engine run directly on the same
// events: one or more entries per event (one per beacon when delivered,
// else one), in input order, each with its event's metadata byte for byte.
func TestProcessorThousandEvents(t *testing.T) {
	const n = 1000
	events := corpus.Events(7, n)
	body := rudderServerBody(events, corpus.Config())
	reply, sum, err := Processor(nil, body, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(reply) {
		t.Fatal("reply is not valid JSON")
	}
	entries := gjson.ParseBytes(reply).Array()
	inputs := gjson.ParseBytes(body).Array()
	cfg, err := spotify.ParseConfig(corpus.Config())
	if err != nil {
		t.Fatal(err)
	}
	engine := spotify.NewTransformer(cfg, spotify.Options{Beacons: true})
	at := 0
	delivered, filtered, failed := 0, 0, 0
	for i, in := range inputs {
		o := engine.Transform(string(events[i]))
		want := 1
		if o.Status == spotify.StatusOK {
			want = 0
			for _, c := range o.Calls {
				if c.Command != spotify.CmdAlias {
					want++
				}
			}
			if want == 0 {
				t.Fatalf("event %d is ok with no beacon", i)
			}
		}
		for k := 0; k < want; k++ {
			if at >= len(entries) {
				t.Fatalf("reply ends at event %d", i)
			}
			e := entries[at]
			at++
			if md := e.Get("metadata").Raw; md != in.Get("metadata").Raw {
				t.Fatalf("entry %d (event %d): metadata %s, want %s", at-1, i, md, in.Get("metadata").Raw)
			}
			if code := int(e.Get("statusCode").Int()); code != o.Status.Code() {
				t.Fatalf("entry %d (event %d): statusCode %d, want %d", at-1, i, code, o.Status.Code())
			}
			switch o.Status {
			case spotify.StatusOK:
				delivered++
				if e.Get("output.params.key").Str != cfg.PixelID || e.Get("output.method").Str != "GET" {
					t.Fatalf("entry %d: output %s", at-1, e.Get("output").Raw)
				}
			case spotify.StatusFiltered:
				filtered++
			default:
				failed++
			}
			if o.Status != spotify.StatusOK && e.Get("error").Str != o.Reason() {
				t.Fatalf("entry %d: error %q, want %q", at-1, e.Get("error").Str, o.Reason())
			}
		}
	}
	if at != len(entries) {
		t.Fatalf("%d entries for %d expected", len(entries), at)
	}
	if sum.Events != n || sum.OK+sum.Filtered+sum.Failed != n {
		t.Errorf("summary %+v", sum)
	}
	if delivered < 300 || filtered < 100 {
		t.Errorf("implausible mix: %d delivered beacons, %d filtered, %d failed", delivered, filtered, failed)
	}
	t.Logf("%d events → %d entries (%d beacons, %d filtered, %d failed)", n, len(entries), delivered, filtered, failed)
}

// TestRouterThousandEvents: the router answers exactly one entry per event,
// in order, batchedRequest holding as many requests as the processor gives
// entries.
func TestRouterThousandEvents(t *testing.T) {
	events := corpus.Events(11, 1000)
	items := rudderServerBody(events, corpus.Config())
	body := []byte(`{"input":` + string(items) + `,"destType":"spotify_pixel"}`)
	reply, _, err := Router(nil, body, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	proc, _, err := Processor(nil, items, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	perJob := map[int64]int{}
	for _, e := range gjson.ParseBytes(proc).Array() {
		perJob[e.Get("metadata.jobId").Int()]++
	}
	out := gjson.GetBytes(reply, "output").Array()
	inputs := gjson.ParseBytes(items).Array()
	if len(out) != len(inputs) {
		t.Fatalf("%d entries for %d events", len(out), len(inputs))
	}
	for i, e := range out {
		md := e.Get("metadata")
		if !md.IsArray() || md.Get("#").Int() != 1 || md.Get("0").Raw != inputs[i].Get("metadata").Raw {
			t.Fatalf("entry %d metadata %s", i, md.Raw)
		}
		if e.Get("batched").Type != gjson.False || e.Get("destination").Raw != inputs[i].Get("destination").Raw {
			t.Fatalf("entry %d: batched/destination %s", i, e.Raw)
		}
		requests := 1
		if br := e.Get("batchedRequest"); br.IsArray() {
			requests = int(br.Get("#").Int())
			if requests < 2 {
				t.Fatalf("entry %d: an array of %d requests", i, requests)
			}
		}
		if e.Get("statusCode").Int() == 200 && requests != perJob[md.Get("0.jobId").Int()] {
			t.Fatalf("entry %d: %d requests, the processor gives %d", i, requests, perJob[md.Get("0.jobId").Int()])
		}
	}
}

// TestConfigParsedOncePerDestination: one parse per distinct (destination
// ID, resolved Config), not per event.
func TestConfigParsedOncePerDestination(t *testing.T) {
	events := corpus.Events(3, 200)
	r := newRun(Options{}, featureProcessor)
	items, err := parseProcessor(rudderServerBody(events, corpus.Config()), false, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range items {
		r.appendProcessorItem(nil, &items[i])
	}
	if len(r.cache) != 1 {
		t.Errorf("%d configs parsed for one destination", len(r.cache))
	}
	dyn := []byte(`{"pixelId":"{{ message.anonymousId || \"none\" }}"}`)
	items, err = parseProcessor(rudderServerBody(events[:50], dyn), false, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	r = newRun(Options{}, featureProcessor)
	ids := map[string]bool{}
	for i := range items {
		r.appendProcessorItem(nil, &items[i])
		ids[items[i].message.Get("anonymousId").Str] = true
	}
	if len(r.cache) != len(ids) {
		t.Errorf("%d configs parsed for %d distinct resolved configs", len(r.cache), len(ids))
	}
}

func TestRequestLevelErrors(t *testing.T) {
	cases := []struct {
		name      string
		body      string
		router    bool
		compacted bool
		code      apperr.Code
		part      string
	}{
		{"processor object", `{}`, false, false, apperr.BadRequest, "JSON array"},
		{"processor scalar element", `[{"message":{}}, "x"]`, false, false, apperr.BadRequest, "element 1"},
		{"compacted input not array", `{"input":{}}`, false, true, apperr.BadRequest, "input must be an array"},
		{"compacted unknown id", `{"input":[{"message":{},"metadata":{"destinationId":"nope"}}],"destinations":{}}`, false, true, apperr.Internal, "no destination found for id nope"},
		{"router compacted unknown id", `{"destType":"spotify_pixel","input":[{"message":{},"metadata":{"destinationId":7}}],"destinations":{"8":{}}}`, true, true, apperr.Internal, "no destination found for id 7"},
		{"router destType", `{"destType":"webhook","input":[]}`, true, false, apperr.NotFound, "Unknown destination: webhook"},
		{"too many", `[{},{},{}]`, false, false, apperr.TooLarge, "3 events"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fn := Processor
			if c.router {
				fn = Router
			}
			_, _, err := fn(nil, []byte(c.body), c.compacted, Options{MaxEvents: 2})
			if err == nil || apperr.CodeOf(err) != c.code || !strings.Contains(err.Error(), c.part) {
				t.Fatalf("error %v (code %v), want %v mentioning %q", err, apperr.CodeOf(err), c.code, c.part)
			}
		})
	}
}

// TestBodyCheck: both transforms check the body with the engine's
// validator before reading it, nesting limit (Options.MaxDepth, 0 meaning
// jsonscan.MaxDepth) included, and word a fault as /transform does, with
// its byte; a leading byte order mark is skipped, and offsets count after it.
func TestBodyCheck(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	const router = `{"destType":"spotify_pixel","input":[{"message":` // 3 levels, 48 bytes
	cases := []struct {
		name   string
		router bool
		body   string
		depth  int
		want   string // "": accepted
	}{
		{"at the limit", false, `[{"message":` + deep(3) + `}]`, 5, ""},
		{"one level more", false, `[{"message":` + deep(4) + `}]`, 5, "request body nests JSON arrays and objects deeper than 5 levels (at byte 15)"},
		{"default limit", false, `[` + deep(1000) + `]`, 0, "request body nests JSON arrays and objects deeper than 1000 levels (at byte 1000)"},
		{"all brackets", false, strings.Repeat("[", 1<<20), 0, "request body nests JSON arrays and objects deeper than 1000 levels (at byte 1000)"},
		{"trailing comma", false, `[{"message":{}},]`, 0, "request body is not valid JSON (at byte 16)"},
		{"byte order mark", false, "\xef\xbb\xbf[1 2]", 0, "request body is not valid JSON (at byte 3)"},
		{"whitespace", false, " \n", 0, "request body is empty"},
		{"router at the limit", true, router + deep(2) + `}]}`, 5, ""},
		{"router one level more", true, router + deep(3) + `}]}`, 5, "request body nests JSON arrays and objects deeper than 5 levels (at byte 50)"},
		{"router all brackets", true, router + strings.Repeat("[", 1<<20), 0, "request body nests JSON arrays and objects deeper than 1000 levels (at byte 1045)"},
		{"router cut short", true, router + `{}`, 0, "request body is not valid JSON (at byte 50)"},
	}
	for _, c := range cases {
		fn := Processor
		if c.router {
			fn = Router
		}
		_, _, err := fn(nil, []byte(c.body), false, Options{MaxDepth: c.depth})
		if c.want == "" && err != nil || c.want != "" && (err == nil || err.Error() != c.want || apperr.CodeOf(err) != apperr.BadRequest) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestRouterInvalidEventArray(t *testing.T) {
	for _, body := range []string{`{"destType":"spotify_pixel","input":[]}`, `{"destType":"SPOTIFY_PIXEL","input":{}}`, `{"destType":"spotify_pixel"}`} {
		reply, _, err := Router(nil, []byte(body), false, Options{})
		if err != nil {
			t.Fatal(err)
		}
		out := gjson.GetBytes(reply, "output").Array()
		if len(out) != 1 || out[0].Get("statusCode").Int() != 400 || out[0].Get("error").Str != "Invalid event array" {
			t.Errorf("%s → %s", body, reply)
		}
	}
}

// TestMissingPiecesOfAnItem: an item without destination fails with a
// configuration error; without metadata, the processor leaves the key out
// (as JavaScript drops undefined) and the router writes [null].
func TestMissingPiecesOfAnItem(t *testing.T) {
	reply, _, err := Processor(nil, []byte(`[{"message":{"type":"page"}}]`), false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := gjson.ParseBytes(reply).Get("0")
	if e.Get("metadata").Exists() || e.Get("statusCode").Int() != 400 || e.Get("statTags.errorType").Str != "configuration" {
		t.Errorf("processor: %s", reply)
	}
	reply, _, err = Router(nil, []byte(`{"destType":"spotify_pixel","input":[{"message":{"type":"page"},"destination":{"Config":{"pixelId":"p"}}}]}`), false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if md := gjson.GetBytes(reply, "output.0.metadata").Raw; md != "[null]" {
		t.Errorf("router metadata %s in %s", md, reply)
	}
}

// TestRouterPassThrough: a message that already carries a truthy
// statusCode was transformed upstream and is delivered as is, as
// rudder-transformer's simpleProcessRouterDest does.
func TestRouterPassThrough(t *testing.T) {
	msg := `{"version":"1","type":"REST","method":"GET","endpoint":"https://x/","statusCode":200}`
	body := `{"destType":"spotify_pixel","input":[{"message":` + msg + `,"metadata":{"jobId":1},"destination":{"ID":"d","Config":{}}}]}`
	reply, sum, err := Router(nil, []byte(body), false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := gjson.GetBytes(reply, "output.0.batchedRequest").Raw; got != msg || sum.Events != 0 {
		t.Errorf("batchedRequest %s (events %d)", got, sum.Events)
	}
}

func TestOutputDetails(t *testing.T) {
	cfg := `{"ID":"d","Config":{"pixelId":"p x&y"}}`
	cases := []struct {
		name, message string
		check         func(out gjson.Result) bool
	}{
		{"ip from request_ip", `{"type":"page","request_ip":"10.0.0.1","context":{"ip":""}}`,
			func(o gjson.Result) bool { return o.Get("headers").Raw == `{"X-Forwarded-For":"10.0.0.1"}` }},
		{"header injection refused", `{"type":"page","context":{"userAgent":"a\r\nX-Evil: 1","ip":"1.1.1.1"}}`,
			func(o gjson.Result) bool { return o.Get("headers").Raw == `{"X-Forwarded-For":"1.1.1.1"}` }},
		{"non-string ip ignored", `{"type":"page","context":{"ip":12}}`,
			func(o gjson.Result) bool { return o.Get("headers").Raw == `{}` }},
		{"numeric userId", `{"type":"page","userId":1.0e3}`,
			func(o gjson.Result) bool { return o.Get("userId").Str == "1.0e3" }},
		{"zero userId", `{"type":"page","userId":0}`,
			func(o gjson.Result) bool { return o.Get("userId").Str == "" }},
		{"object userId", `{"type":"page","userId":{"a":1}}`,
			func(o gjson.Result) bool { return o.Get("userId").Str == "" }},
		{"key verbatim", `{"type":"page"}`,
			func(o gjson.Result) bool {
				return o.Get("params.key").Str == "p x&y" && o.Get("params.a").Str == "init"
			}},
		{"non-string beacon values as JSON text", `{"type":"page","properties":{"value":{"a":1},"currency":true}}`,
			func(o gjson.Result) bool {
				return o.Get("params.value").Str == `{"a":1}` && o.Get("params.currency").Str == "true"
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := `[{"message":` + c.message + `,"metadata":{},"destination":` + cfg + `}]`
			reply, _, err := Processor(nil, []byte(body), false, Options{BeaconURL: "https://sink.example/p?x=1"})
			if err != nil {
				t.Fatal(err)
			}
			out := gjson.ParseBytes(reply).Get("0.output")
			if out.Get("endpoint").Str != "https://sink.example/p?x=1" || !c.check(out) {
				t.Errorf("output %s", out.Raw)
			}
		})
	}
}

func TestInvalidUTF8StaysValidJSON(t *testing.T) {
	body := "[{\"message\":{\"type\":\"identify\"},\"metadata\":{\"k\":\"bad \xff byte\"},\"destination\":{\"Config\":{\"pixelId\":\"p\"}}}]"
	reply, _, err := Processor(nil, []byte(body), false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(reply) || !strings.Contains(string(reply), `bad \ufffd byte`) {
		t.Errorf("reply %q", reply)
	}
}

func TestFeaturesDocument(t *testing.T) {
	var f map[string]any
	if err := json.Unmarshal(AppendFeatures(nil), &f); err != nil {
		t.Fatal(err)
	}
	if f["supportSourceTransformV1"] != true || f["upgradedToSourceTransformV2"] != true || f["supportDestTransformCompactedPayloadV1"] != true {
		t.Errorf("features %v", f)
	}
}

// TestOKWithoutBeaconIsNotDropped: the engine never gives an ok outcome
// with only an alias call; were it to, the event would be reported
// filtered, never silently left out of the reply.
func TestOKWithoutBeaconIsNotDropped(t *testing.T) {
	o := &spotify.Outcome{Status: spotify.StatusOK, Calls: []spotify.Call{{Command: spotify.CmdAlias}}}
	if v := verdictOf(o); v.status != spotify.StatusFiltered || v.reason != noBeacon {
		t.Errorf("verdict %+v", v)
	}
	o.Calls = append(o.Calls, spotify.Call{Command: spotify.CmdPurchase}, spotify.Call{Command: spotify.CmdPurchase})
	if v := verdictOf(o); v.status != spotify.StatusOK || v.beacons != 2 {
		t.Errorf("verdict %+v", v)
	}
}
