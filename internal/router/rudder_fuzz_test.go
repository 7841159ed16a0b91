package router

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"spotifypixel/internal/destinations"
	"spotifypixel/internal/metrics"
	"spotifypixel/internal/testkit"
	"spotifypixel/internal/upstream"
)

// rudderFuzzMode is one way FuzzRudder sends a body to a RudderStack route.
type rudderFuzzMode struct {
	name       string
	path       string
	compacted  bool // X-Content-Format: json+compactedv1
	gzip       bool // the body is compressed here and sent with Content-Encoding: gzip
	rawGzip    bool // the body is sent as is with Content-Encoding: gzip
	acceptGzip bool // Accept-Encoding: gzip (the reply may come compressed)
	sidecar    bool // served in sidecar mode, in front of a stand-in upstream
}

// rudderFuzzModes are the requests FuzzRudder sends a body as, by mode % 9.
var rudderFuzzModes = []rudderFuzzMode{
	{name: "processor", path: "/v0/destinations/spotify_pixel"},
	{name: "processor compacted", path: "/v0/destinations/spotify_pixel", compacted: true},
	{name: "router", path: "/routerTransform"},
	{name: "router compacted", path: "/routerTransform", compacted: true},
	{name: "processor gzip", path: "/v0/destinations/spotify_pixel", gzip: true, acceptGzip: true},
	{name: "router gzip", path: "/routerTransform", gzip: true},
	{name: "processor raw gzip", path: "/v0/destinations/Spotify_Pixel", rawGzip: true},
	{name: "sidecar batch", path: "/batch", sidecar: true},
	{name: "sidecar router", path: "/routerTransform", sidecar: true},
}

// The limits FuzzRudder serves with: small, so that a run does many execs
// and the fuzzer can reach every one of them.
const (
	rudderFuzzMaxBody   = 64 << 10
	rudderFuzzMaxEvents = 50
	rudderFuzzDepth     = 16
)

// rudderStatuses are the statuses the RudderStack routes document
// (docs/RUDDERSTACK.md, "HTTP details"); 500 only for a compacted input
// naming no destination, checked apart. No auth token is set, so no 401.
var rudderStatuses = map[int]bool{200: true, 400: true, 404: true, 413: true, 415: true}

// upstreamMark is the header the stand-in upstream of FuzzRudder answers
// with, telling a passed-on reply from one of this service.
const upstreamMark = "X-Fuzz-Upstream"

// FuzzRudder sends whole bodies to the RudderStack routes through the real
// router (New, with its middleware and a real destinations store), plain,
// compacted, gzip and in sidecar mode, and checks on every input:
//   - no panic; a documented status; a JSON body, with nosniff and
//     apiVersion: 2 on every reply that is this service's (a passed-on
//     reply carries the upstream's headers only);
//   - JSON (encoding/json.Valid) within the nesting limit is never refused
//     as malformed or too deep, and anything else is never a 200;
//   - a 413 only for a body over the limit or too many events;
//   - a processor 200 holds, in input order, one failure entry or at least
//     one delivery entry per element, each echoing the element's metadata
//     byte for byte (bytes of invalid UTF-8 as \ufffd);
//   - a router 200 holds one entry per element first, in order, each with
//     [its metadata] (null when it has none), then only batched entries
//     whose metadata are inputs' metadata;
//   - in sidecar mode, a JSON body naming Spotify Pixel within the limit is
//     never passed on, and one naming no Spotify Pixel always is.
func FuzzRudder(f *testing.F) {
	for _, s := range rudderSeeds(f) {
		f.Add(s.mode, s.body)
	}
	path := filepath.Join(f.TempDir(), "destinations.yaml")
	if err := os.WriteFile(path, []byte(fuzzShop), 0o644); err != nil {
		f.Fatal(err)
	}
	store, err := destinations.NewStore(path)
	if err != nil {
		f.Fatal(err)
	}
	var ready atomic.Bool
	ready.Store(true)
	deps := func() Deps {
		return Deps{Store: store, Metrics: metrics.New(prometheus.NewRegistry()), Logger: zap.NewNop(),
			Ready: &ready, MaxBodyBytes: rudderFuzzMaxBody, MaxBatchEvents: rudderFuzzMaxEvents,
			MaxJSONDepth: rudderFuzzDepth, CAPIBatchSize: 2}
	}
	standalone := New(deps())

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(upstreamMark, "1")
		w.WriteHeader(207)
		w.Write([]byte(`{"upstream":true}`))
	}))
	f.Cleanup(up.Close)
	sd := deps()
	u, err := upstream.ParseURL(up.URL)
	if err != nil {
		f.Fatal(err)
	}
	if sd.Upstream, err = upstream.New(upstream.Options{URL: u, Metrics: sd.Metrics}); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(sd.Upstream.Close) // runs before up.Close
	sidecar := New(sd)

	f.Fuzz(func(t *testing.T, mode uint8, body []byte) {
		m := rudderFuzzModes[int(mode)%len(rudderFuzzModes)]
		sent, plain, inflated := body, body, true
		switch {
		case m.gzip:
			sent = testkit.Gzip(body)
		case m.rawGzip:
			plain, inflated = inflate(body, rudderFuzzMaxBody)
		}
		req := httptest.NewRequest(http.MethodPost, m.path, bytes.NewReader(sent))
		req.Header.Set("Content-Type", "application/json")
		if m.gzip || m.rawGzip {
			req.Header.Set("Content-Encoding", "gzip")
		}
		if m.acceptGzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		if m.compacted {
			req.Header.Set("X-Content-Format", "json+compactedv1")
		}
		rec := httptest.NewRecorder()
		h := standalone
		if m.sidecar {
			h = sidecar
		}
		h.ServeHTTP(rec, req)
		checkRudderReply(t, m, sent, plain, inflated, rec)
	})
}

// checkRudderReply checks one reply; plain is the JSON text the route reads
// (sent, or sent inflated), inflated false when sent is not gzip.
func checkRudderReply(t *testing.T, m rudderFuzzMode, sent, plain []byte, inflated bool, rec *httptest.ResponseRecorder) {
	reply := rec.Body.Bytes()
	if rec.Header().Get("Content-Encoding") == "gzip" {
		if !m.acceptGzip {
			t.Fatalf("%s: a gzip reply to a client that did not accept it", m.name)
		}
		var ok bool
		if reply, ok = inflate(reply, 1<<30); !ok {
			t.Fatalf("%s: the gzip reply does not inflate", m.name)
		}
	}
	if !json.Valid(reply) {
		t.Fatalf("%s: %d with a body that is not JSON: %q", m.name, rec.Code, reply)
	}
	if !utf8.Valid(reply) { // docs/RUDDERSTACK.md: the reply is always valid (UTF-8) JSON
		t.Fatalf("%s: %d with a body that is not UTF-8: %q", m.name, rec.Code, reply)
	}
	text := bytes.TrimPrefix(plain, []byte("\xef\xbb\xbf")) // RFC 8259 allows a BOM; the routes ignore it
	wellFormed := inflated && json.Valid(text) && jsonDepth(text) <= rudderFuzzDepth
	tooBig := len(sent) > rudderFuzzMaxBody || len(plain) > rudderFuzzMaxBody
	mine := !m.sidecar || rec.Header().Get(upstreamMark) == ""

	if m.sidecar {
		// docs/RUDDERSTACK.md, sidecar mode: the body decides; a Spotify
		// Pixel body is never passed on, any other readable one always is.
		named := wellFormed && namesSpotifyPixel(text)
		switch {
		case !mine && !tooBig && (named || inflated && json.Valid(text) && !wellFormed):
			t.Fatalf("%s: passed on a body this service must answer: %.300q", m.name, plain)
		case mine && !tooBig && wellFormed && !named:
			t.Fatalf("%s: answered %d (%.200s) a body naming no Spotify Pixel, which is the upstream's", m.name, rec.Code, reply)
		case !mine:
			if rec.Code != 207 {
				t.Fatalf("%s: the upstream's 207 came back as %d", m.name, rec.Code)
			}
			return
		}
	}

	// A passed-on reply carries the upstream's headers only (relayed as
	// sent); every reply of this service carries these.
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("%s: %d without X-Content-Type-Options: nosniff", m.name, rec.Code)
	}
	if rec.Header().Get("apiVersion") != "2" {
		t.Fatalf("%s: %d without apiVersion: 2", m.name, rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: %d with Content-Type %q", m.name, rec.Code, ct)
	}
	if rec.Code != 200 {
		checkRudderError(t, m, rec.Code, reply, wellFormed, tooBig, text)
		return
	}
	if !wellFormed {
		t.Fatalf("%s: 200 for a body that is not JSON within %d levels: %.300q", m.name, rudderFuzzDepth, plain)
	}
	switch {
	case m.path == "/batch":
		t.Fatalf("%s: 200 from /batch: %.300s", m.name, reply)
	case strings.HasPrefix(m.path, "/v0/"):
		checkProcessorReply(t, m, text, reply)
	default:
		checkRouterReply(t, m, text, reply)
	}
}

// checkRudderError checks a reply that is not a 200 and this service's.
func checkRudderError(t *testing.T, m rudderFuzzMode, code int, reply []byte, wellFormed, tooBig bool, text []byte) {
	var e struct{ Error string }
	if json.Unmarshal(reply, &e) != nil || e.Error == "" {
		t.Fatalf("%s: %d with a body that is not a JSON error: %q", m.name, code, reply)
	}
	switch {
	case code == 500 && m.compacted && strings.HasPrefix(e.Error, "no destination found for id "):
		if !wellFormed {
			t.Fatalf("%s: 500 %q for a malformed body", m.name, e.Error)
		}
	case !rudderStatuses[code]:
		t.Fatalf("%s: status %d is not documented: %s", m.name, code, reply)
	}
	if wellFormed && code == 400 && (strings.Contains(e.Error, "not valid JSON") || strings.Contains(e.Error, "deeper than")) {
		t.Fatalf("%s: JSON within %d levels refused: %q", m.name, rudderFuzzDepth, e.Error)
	}
	if code == 413 && !tooBig {
		if !wellFormed || len(rudderInput(m, text).elems) <= rudderFuzzMaxEvents {
			t.Fatalf("%s: 413 %q for a body within both limits", m.name, e.Error)
		}
	}
	if m.path == "/batch" && wellFormed && (code != 404 || !strings.Contains(e.Error, "does not implement batch")) {
		t.Fatalf("%s: %d %q for a Spotify Pixel batch", m.name, code, e.Error)
	}
}

// fuzzInput is the array of elements of a request, as the routes read it.
type fuzzInput struct {
	array bool              // the input is an array
	elems []json.RawMessage // its elements
}

// rudderInput finds the elements of a well-formed request body: the body
// itself (a plain processor request) or its first "input" key.
func rudderInput(m rudderFuzzMode, text []byte) fuzzInput {
	var v json.RawMessage
	if !m.compacted && strings.HasPrefix(m.path, "/v0/") {
		v = bytes.TrimSpace(text)
	} else if v = memberOf(text, "input"); v == nil {
		return fuzzInput{}
	}
	elems, ok := arrayElems(v)
	return fuzzInput{array: ok, elems: elems}
}

// checkProcessorReply checks a processor 200: entries in input order, each
// element giving one failure entry (statusCode 298 or 400) or one or more
// deliveries (statusCode 200), each with the element's metadata echoed. As
// equal metadata of neighbouring elements cannot be told apart, the check
// is per run of equal metadata.
func checkProcessorReply(t *testing.T, m rudderFuzzMode, text, reply []byte) {
	in := rudderInput(m, text)
	if !in.array {
		t.Fatalf("%s: 200 for a request without an input array", m.name)
	}
	entries, ok := arrayElems(reply)
	if !ok {
		t.Fatalf("%s: the 200 is not an array: %.300s", m.name, reply)
	}
	type run struct {
		md                  string
		rewritten           bool // md is semantic(metadata): its key repeated
		items, ok, failures int
	}
	var want, got []run
	for i, el := range in.elems {
		if !isObject(el) {
			t.Fatalf("%s: 200 although element %d is not an object", m.name, i)
		}
		md, rewritten := echoedMetadata(memberOf(el, "metadata"))
		if n := len(want); n > 0 && want[n-1].md == md {
			want[n-1].items++
		} else {
			want = append(want, run{md: md, rewritten: rewritten, items: 1})
		}
	}
	for i, e := range entries {
		md := string(memberOf(e, "metadata"))
		if n := len(got); n == 0 || got[n-1].md != md {
			got = append(got, run{md: md})
		}
		r := &got[len(got)-1]
		switch code := string(memberOf(e, "statusCode")); code {
		case "200":
			if !isObject(memberOf(e, "output")) {
				t.Fatalf("%s: delivery entry %d without an output: %.300s", m.name, i, e)
			}
			r.ok++
		case "298", "400":
			if !isString(memberOf(e, "error")) || !isObject(memberOf(e, "statTags")) {
				t.Fatalf("%s: failure entry %d without error or statTags: %.300s", m.name, i, e)
			}
			r.failures++
		default:
			t.Fatalf("%s: entry %d has statusCode %s: %.300s", m.name, i, code, e)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements in %d runs of equal metadata gave %d entries in %d runs:\n%s", m.name,
			len(in.elems), len(want), len(entries), len(got), reply)
	}
	for k, w := range want {
		g := got[k]
		if g.md != w.md && (!w.rewritten || semantic([]byte(g.md)) != w.md) {
			t.Fatalf("%s: run %d echoes metadata %s, the input has %s", m.name, k, g.md, w.md)
		}
		if g.failures > w.items || g.ok < w.items-g.failures || (g.ok == 0) != (g.failures == w.items) {
			t.Fatalf("%s: run %d (metadata %.100s): %d elements gave %d deliveries and %d failures", m.name, k, w.md,
				w.items, g.ok, g.failures)
		}
	}
}

// checkRouterReply checks a router 200: {"output": [...]} with the entry of
// each element first, in order, each with [its metadata], then batched
// entries (Conversions API envelopes) carrying inputs' metadata only.
func checkRouterReply(t *testing.T, m rudderFuzzMode, text, reply []byte) {
	if dt := memberOf(text, "destType"); !namesSpotifyPixel(text) {
		t.Fatalf("%s: 200 for destType %s", m.name, dt)
	}
	in := rudderInput(m, text)
	output, ok := arrayElems(memberOf(reply, "output"))
	if !ok || len(parsedMembers(reply)) != 1 {
		t.Fatalf("%s: the 200 is not {\"output\": [...]}: %.300s", m.name, reply)
	}
	if len(in.elems) == 0 {
		const invalid = `{"metadata":null,"batched":false,"statusCode":400,"error":"Invalid event array"}`
		if len(output) != 1 || string(output[0]) != invalid {
			t.Fatalf("%s: no input events, and the reply is %.300s", m.name, reply)
		}
		return
	}
	if len(output) < len(in.elems) {
		t.Fatalf("%s: %d events, %d entries: %.300s", m.name, len(in.elems), len(output), reply)
	}
	sent := map[string]bool{}
	for i, el := range in.elems {
		if !isObject(el) {
			t.Fatalf("%s: 200 although element %d is not an object", m.name, i)
		}
		md, rewritten := "null", false
		if raw := memberOf(el, "metadata"); raw != nil {
			md, rewritten = echoedMetadata(raw)
		}
		e := output[i]
		got := echoedArray(memberOf(e, "metadata"))
		if len(got) == 1 && rewritten {
			got[0] = semantic([]byte(got[0]))
		}
		sent[md] = true
		if len(got) != 1 || got[0] != md {
			t.Fatalf("%s: entry %d has metadata %s, the event has %s", m.name, i, memberOf(e, "metadata"), md)
		}
		code := string(memberOf(e, "statusCode"))
		if string(memberOf(e, "batched")) != "false" || code != "200" && code != "298" && code != "400" {
			t.Fatalf("%s: entry %d: %.300s", m.name, i, e)
		}
	}
	for i, e := range output[len(in.elems):] {
		mds := echoedArray(memberOf(e, "metadata"))
		if string(memberOf(e, "batched")) != "true" || string(memberOf(e, "statusCode")) != "200" || len(mds) == 0 {
			t.Fatalf("%s: entry %d after the events' own: %.300s", m.name, len(in.elems)+i, e)
		}
		for _, md := range mds {
			if !sent[md] && !sent[semantic([]byte(md))] {
				t.Fatalf("%s: batched entry %d carries metadata %s, which no event has", m.name, len(in.elems)+i, md)
			}
		}
	}
}

// inflate gunzips b (every member, as the routes do), reading at most
// limit+1 bytes; ok is false when b is not gzip.
func inflate(b []byte, limit int64) ([]byte, bool) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, false
	}
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	return out, err == nil
}

// jsonDepth is how deep valid JSON text nests arrays and objects (the
// text's own level counts: [] is 1).
func jsonDepth(text []byte) int {
	depth, most, inString := 0, 0, false
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			most = max(most, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return most
}

// member is one key of an object and its value as written.
type member struct {
	key   string
	value json.RawMessage
}

// parsedMembers returns the members of a JSON object as JSON.parse reads
// them (docs/BEHAVIOUR.md §2.1): each key once, at the place of its first
// occurrence, with the value of its last; nil when raw is not an object.
func parsedMembers(raw []byte) []member {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	at := map[string]int{}
	ms := []member{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil
		}
		k := tok.(string)
		if i, seen := at[k]; seen {
			ms[i].value = v
			continue
		}
		at[k] = len(ms)
		ms = append(ms, member{k, v})
	}
	return ms
}

// memberOf returns the value of key k of a JSON object as JSON.parse reads
// it, or nil.
func memberOf(raw []byte, k string) json.RawMessage {
	for _, m := range parsedMembers(raw) {
		if m.key == k {
			return m.value
		}
	}
	return nil
}

// repeatsKey reports whether an object within the JSON text raw repeats a key.
func repeatsKey(raw []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	type level struct {
		object bool
		keys   map[string]bool
		key    bool // the next string token is a key
	}
	var stack []*level
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return true
				}
				top.keys[k], top.key = true, false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &level{object: true, keys: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &level{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) == 0 {
			return false
		}
		if t := stack[len(stack)-1]; t.object {
			t.key = true
		}
	}
}

// semantic re-encodes JSON text as its decoded value (numbers as written,
// keys sorted), so that two spellings of one value compare equal.
func semantic(raw []byte) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// echoedMetadata is metadata as the routes echo it: byte for byte (see
// echoed), unless an object within it repeats a key, when only its value
// is promised (the body is read as JSON.parse reads it).
func echoedMetadata(raw []byte) (md string, rewritten bool) {
	if repeatsKey(raw) {
		return semantic(raw), true
	}
	return echoed(raw), false
}

// arrayElems returns the elements of a JSON array as written.
func arrayElems(raw []byte) ([]json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, false
	}
	elems := []json.RawMessage{}
	for dec.More() {
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		elems = append(elems, v)
	}
	return elems, true
}

func isObject(raw []byte) bool { return len(raw) > 0 && raw[0] == '{' }
func isString(raw []byte) bool { return len(raw) > 0 && raw[0] == '"' }

// namesSpotifyPixel reports whether a JSON object's first destType is a
// string naming Spotify Pixel, in any case.
func namesSpotifyPixel(text []byte) bool {
	var dt string
	raw := memberOf(text, "destType")
	return raw != nil && json.Unmarshal(raw, &dt) == nil && isString(raw) && strings.EqualFold(dt, "spotify_pixel")
}

// echoed is metadata as the routes echo it (docs/RUDDERSTACK.md): byte for
// byte, but for each byte of invalid UTF-8, which becomes \ufffd; "" when
// there is none.
func echoed(raw []byte) string {
	var b strings.Builder
	for len(raw) > 0 {
		r, n := utf8.DecodeRune(raw)
		if r == utf8.RuneError && n == 1 {
			b.WriteString(`\ufffd`)
		} else {
			b.Write(raw[:n])
		}
		raw = raw[n:]
	}
	return b.String()
}

// echoedArray returns the elements of a router entry's metadata array.
func echoedArray(raw []byte) []string {
	elems, _ := arrayElems(raw)
	out := make([]string, len(elems))
	for i, e := range elems {
		out[i] = string(e)
	}
	return out
}

// rudderSeeds are FuzzRudder's seeds: every request of testdata/rudder in
// the mode its path and headers name (and gzip for the plain ones), then
// hostile bodies.
func rudderSeeds(tb testing.TB) []fuzzSeed {
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	if err != nil || len(files) < 10 {
		tb.Fatalf("fixtures: %v (%d files)", err, len(files))
	}
	var seeds []fuzzSeed
	add := func(name string, mode uint8, body string) {
		seeds = append(seeds, fuzzSeed{name, mode, []byte(body)})
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		fx := gjson.ParseBytes(raw)
		body := fx.Get("request.body").Raw
		compacted := fx.Get("request.headers.X-Content-Format").Exists()
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		switch router := fx.Get("request.path").Str == "/routerTransform"; {
		case router && compacted:
			add(name, 3, body)
			add(name+" sidecar", 8, body)
		case router:
			add(name, 2, body)
			add(name+" gzip", 5, body)
			add(name+" batch", 7, body)
		case compacted:
			add(name, 1, body)
		default:
			add(name, 0, body)
			add(name+" gzip", 4, body)
		}
	}

	const (
		page = `{"type":"page","messageId":"m1"}`
		dest = `{"ID":"d","Config":{"pixelId":"p"}}`
		capi = `{"ID":"c","Config":{"pixelId":"p","capiConnectionId":"conn","capiAccessToken":"tok"}}`
		buy  = `{"type":"track","event":"Order Completed","messageId":"m2","properties":{"total":10,"currency":"EUR"},` +
			`"context":{"ip":"192.0.2.1","traits":{"email":"a@example.com"}}}`
	)
	elem := func(message, metadata, destination string) string {
		s := `{"message":` + message
		if metadata != "" {
			s += `,"metadata":` + metadata
		}
		return s + `,"destination":` + destination + `}`
	}
	router := func(input string) string { return `{"input":` + input + `,"destType":"spotify_pixel"}` }
	deep := func(k int) string { // k nested objects
		return strings.Repeat(`{"a":`, k) + `1` + strings.Repeat(`}`, k)
	}
	add("empty", 0, "")
	add("open bracket", 0, "[")
	add("open bracket gzip", 4, "[")
	add("empty array", 0, "[]")
	add("router empty input", 2, router("[]"))
	add("router input not an array", 2, router(`{"a":1}`))
	add("at the limit", 0, `[`+elem(page, deep(rudderFuzzDepth-2), dest)+`]`)
	add("one level over the limit", 0, `[`+elem(page, deep(rudderFuzzDepth-1), dest)+`]`)
	add("one level over the limit, router", 2, router(`[`+elem(page, `[`+deep(rudderFuzzDepth-3)+`]`, dest)+`]`))
	add("one level over the limit, batch", 7, `{"destType":"spotify_pixel","input":`+strings.Repeat("[", rudderFuzzDepth)+strings.Repeat("]", rudderFuzzDepth)+`}`)
	add("invalid UTF-8 in metadata", 0, "["+elem(page, "{\"k\":\"\xff\xfe\xc3\",\"\xe2\x82\":1}", dest)+"]")
	add("invalid UTF-8 in metadata, router", 2, router("["+elem(page, "{\"k\":\"a\xffb\"}", dest)+"]"))
	add("lone surrogate", 0, `[`+elem(`{"type":"page","messageId":"\ud800"}`, `{"s":"\udfff"}`, dest)+`]`)
	add("duplicate keys", 0, `[{"metadata":{"j":1},"message":`+page+`,"metadata":{"j":2},"destination":`+dest+`,"message":5}]`)
	add("duplicate input", 1, `{"input":[{"message":`+page+`,"metadata":{"destinationId":"d"}}],"input":5,"destinations":{"d":`+dest+`,"d":{}}}`)
	add("duplicate destType", 8, `{"destType":"ga4","input":[],"destType":"spotify_pixel"}`)
	add("duplicate destType, ours first", 8, `{"destType":"SPOTIFY_PIXEL","input":[],"destType":"ga4"}`)
	add("huge numbers", 0, `[`+elem(`{"type":"track","event":"Order Completed","properties":{"total":1e400,"revenue":-1e-400}}`,
		`{"jobId":123456789012345678901234567890,"x":1E+999999,"y":-0.0}`, dest)+`]`)
	add("message not an object", 0, `[`+elem(`5`, `{"jobId":1}`, dest)+`,`+elem(`"page"`, `{"jobId":2}`, dest)+`]`)
	add("message not an object, router", 2, router(`[`+elem(`[]`, `{"jobId":1}`, dest)+`]`))
	add("metadata missing", 0, `[`+elem(page, "", dest)+`,`+elem(page, "", dest)+`]`)
	add("metadata missing, router", 2, router(`[`+elem(page, "", dest)+`]`))
	add("metadata null", 0, `[`+elem(page, "null", dest)+`]`)
	add("bad Config", 0, `[`+elem(page, `{"jobId":1}`, `{"ID":"d","Config":"x"}`)+`,`+elem(page, `{"jobId":2}`, `{"ID":"d","Config":{"pixelId":5}}`)+
		`,`+elem(page, `{"jobId":3}`, `{"ID":[],"Config":null}`)+`,`+elem(page, `{"jobId":4}`, `7`)+`]`)
	add("bad Config, router", 2, router(`[`+elem(page, `{"jobId":1}`, `{"ID":"d","Config":{"pixelId":"p","capiConnectionId":"c"}}`)+`]`))
	add("element not an object", 0, `[1]`)
	add("compacted missing destination", 1, `{"input":[{"message":`+page+`,"metadata":{"destinationId":"x"}}],"destinations":{}}`)
	add("compacted numeric id", 3, `{"destType":"spotify_pixel","input":[{"message":`+page+`,"metadata":{"destinationId":7}}],"destinations":{"7":`+dest+`}}`)
	add("capi", 0, `[`+elem(buy, `{"jobId":1}`, capi)+`,`+elem(buy, `{"jobId":1}`, capi)+`,`+elem(page, `{"jobId":2}`, capi)+`]`)
	add("capi, router", 2, router(`[`+elem(buy, `{"jobId":1}`, capi)+`,`+elem(buy, `{"jobId":2}`, capi)+`,`+elem(buy, `{"jobId":2}`, capi)+`]`))
	add("passed through", 2, router(`[`+elem(`{"statusCode":200,"endpoint":"x"}`, `{"jobId":1}`, dest)+`]`))
	add("byte order mark", 0, "\xef\xbb\xbf["+elem(page, `{"jobId":1}`, dest)+"]")
	add("trailing garbage", 0, `[] x`)
	add("as many events as the limit", 0, "["+strings.TrimSuffix(strings.Repeat(elem(page, `{"jobId":1}`, dest)+",", rudderFuzzMaxEvents), ",")+"]")
	add("too many events", 0, "["+strings.TrimSuffix(strings.Repeat(`{},`, rudderFuzzMaxEvents+1), ",")+"]")
	add("router, nothing but destType", 8, `{"destType":"spotify_pixel"}`)
	add("batch, nothing but destType", 7, `{"destType":"Spotify_Pixel"}`)
	add("batch for another destination", 7, `{"destType":"ga4","input":[]}`)
	add("batch without destType", 7, `[{"message":{}}]`)
	add("router malformed for another destination", 8, `{"destType":"ga4","input":[1,,2]}`)
	add("raw gzip", 6, string(testkit.Gzip([]byte(`[`+elem(page, `{"jobId":1}`, dest)+`]`))))
	add("raw gzip, not gzip", 6, "[]")
	for _, c := range faultCases(rudderFuzzDepth, false) {
		if len(c.body) < 4096 {
			add(c.name, 2, c.body)
		}
	}
	return seeds
}

// TestRudderSeeds: the seeds of FuzzRudder that must succeed do, so that
// the corpus keeps reaching the checks of a 200.
func TestRudderSeeds(t *testing.T) {
	ok := 0
	for _, s := range rudderSeeds(t) {
		if strings.Contains(s.name, "over the limit") && json.Valid(s.body) && jsonDepth(s.body) != rudderFuzzDepth+1 {
			t.Errorf("seed %q nests %d levels", s.name, jsonDepth(s.body))
		}
		if s.name == "at the limit" && jsonDepth(s.body) != rudderFuzzDepth {
			t.Errorf("seed %q nests %d levels", s.name, jsonDepth(s.body))
		}
		if json.Valid(s.body) {
			ok++
		}
	}
	if ok < 20 {
		t.Errorf("only %d seeds are JSON", ok)
	}
}
