package spotify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/testkit"
	"spotifypixel/internal/testkit/corpus"
)

// FuzzTransform checks the engine's invariants on any config and any event:
// no panic; a result that is valid JSON and UTF-8, shaped as docs/BEHAVIOUR.md §5 says;
// calls only when ok, with known commands and beacons that carry what the
// params say; and a batch of the same event three times giving three
// results that differ only by index, even after the Transformer has been
// used on other events.
func FuzzTransform(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s.config), []byte(s.event))
	}
	for _, g := range goldenSeeds(f) {
		f.Add(g[0], g[1])
	}
	for _, e := range corpus.Events(2026, 24) {
		f.Add(corpus.Config(), e)
	}
	warm := warmEvents()
	f.Fuzz(func(t *testing.T, configBytes, eventBytes []byte) {
		cfg, err := ParseConfig(configBytes)
		if cfg == nil {
			t.Fatal("ParseConfig returned a nil Config")
		}
		if (err == nil) != (cfg.Err() == nil) {
			t.Fatalf("ParseConfig error %v but Config.Err %v", err, cfg.Err())
		}
		if err == nil && (cfg.PixelID == "" || cfg.PixelID != trim(cfg.PixelID)) {
			t.Fatalf("valid config with pixel id %q", cfg.PixelID)
		}
		event := string(eventBytes)
		tr := NewTransformer(cfg, Options{Beacons: true})
		o := tr.Transform(event)
		single := tr.AppendResult(nil, 0)
		if jsonscan.Check(event, eventLimit) != nil {
			return // only the absence of a panic is promised (fronts check first)
		}
		checkResult(t, cfg, event, o, single, 0)

		// The same event three times, through a Transformer whose buffers
		// were dirtied by other events first.
		tr2 := NewTransformer(cfg, Options{Beacons: true})
		for _, w := range warm {
			tr2.Transform(w)
			tr2.AppendResult(nil, 0)
		}
		batch := "[" + event + "," + event + "," + event + "]"
		resp, sum := tr2.AppendResponse(nil, "d1", gjson.Parse(batch))
		if !json.Valid(resp) {
			t.Fatalf("response is not valid JSON: %s", resp)
		}
		var r struct {
			DestinationID string            `json:"destinationId"`
			PixelID       string            `json:"pixelId"`
			Results       []json.RawMessage `json:"results"`
			Summary       map[string]int    `json:"summary"`
		}
		if err := json.Unmarshal(resp, &r); err != nil {
			t.Fatalf("response: %v: %s", err, resp)
		}
		if r.DestinationID != "d1" || (utf8.ValidString(cfg.PixelID) && r.PixelID != cfg.PixelID) {
			t.Errorf("response head: destinationId %q pixelId %q, want d1 %q", r.DestinationID, r.PixelID, cfg.PixelID)
		}
		if len(r.Results) != 3 || sum.Events != 3 {
			t.Fatalf("batch of 3 gave %d results (summary %+v): %s", len(r.Results), sum, resp)
		}
		want := dropIndex(t, single, 0)
		for i, res := range r.Results {
			if got := dropIndex(t, res, i); !bytes.Equal(got, want) {
				t.Fatalf("batch result %d differs from the single result:\n got: %s\nwant: %s", i, res, single)
			}
		}
		per := map[Status]int{o.Status: 3}
		if sum.OK != per[StatusOK] || sum.Filtered != per[StatusFiltered] || sum.Failed != per[StatusError] {
			t.Errorf("summary %+v for three %v results", sum, o.Status)
		}
		calls := 0
		if o.Status == StatusOK {
			calls = 3 * len(o.Calls)
		}
		if sum.Calls != calls || r.Summary["calls"] != calls || r.Summary["events"] != 3 {
			t.Errorf("summary counts %+v / %v, want %d calls", sum, r.Summary, calls)
		}
		checkUTF8(t, single, resp)
	})
}

// checkUTF8 requires valid UTF-8 output, whatever the input: gjson.Valid
// (and so the /transform framing) accepts invalid UTF-8 inside strings, and the engine
// must not copy it into a response that strict JSON parsers would reject.
func checkUTF8(t *testing.T, outs ...[]byte) {
	t.Helper()
	for _, out := range outs {
		if utf8.Valid(out) {
			continue
		}
		t.Fatalf("result is not valid UTF-8: %q", out)
	}
}

// dropIndex returns a result without its leading {"index":i, checking i.
func dropIndex(t *testing.T, res []byte, i int) []byte {
	t.Helper()
	prefix := `{"index":` + strconv.Itoa(i) + `,`
	if !bytes.HasPrefix(res, []byte(prefix)) {
		t.Fatalf("result %d does not start with %s: %s", i, prefix, res)
	}
	return res[len(prefix):]
}

var knownCommands = map[string]Command{}

func init() {
	for c := Command(0); c < NumCommands; c++ {
		knownCommands[c.String()] = c
	}
}

// checkResult checks one result (docs/BEHAVIOUR.md §5) against the outcome that made it.
func checkResult(t *testing.T, cfg *Config, event string, o *Outcome, res []byte, index int) {
	t.Helper()
	if (o.Status == StatusOK) != (o.Step == StepNone) {
		t.Fatalf("status %v decided at step %v: %s", o.Status, o.Step, res)
	}
	r := decodeResult(t, res)
	checkResultHead(t, event, r, res, index)
	if hasCalls := checkResultStatus(t, cfg, o, r, res); !hasCalls {
		return
	}
	checkResultCalls(t, cfg, o, r["calls"], res, wantUID(event))
}

// Every later check reads the result's members by name, so decodeResult fails
// the test unless the result is valid JSON that decodes as an object, and
// returns its raw members.
func decodeResult(t *testing.T, res []byte) map[string]json.RawMessage {
	t.Helper()
	if !json.Valid(res) {
		t.Fatalf("result is not valid JSON: %s", res)
	}
	var r map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(res))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("result does not decode as an object: %v: %s", err, res)
	}
	return r
}

// Results are matched to their events by index and messageId, so
// checkResultHead allows only docs/BEHAVIOUR.md §5's keys and requires the right index and
// the event's first messageId echoed as sent (null when absent).
func checkResultHead(t *testing.T, event string, r map[string]json.RawMessage, res []byte, index int) {
	t.Helper()
	for k := range r {
		switch k {
		case "index", "messageId", "status", "statusCode", "calls", "reason", "errorType", "warnings":
		default:
			t.Errorf("result has unexpected key %q: %s", k, res)
		}
	}
	if string(r["index"]) != strconv.Itoa(index) {
		t.Errorf("index %s, want %d", r["index"], index)
	}
	if _, ok := r["messageId"]; !ok {
		t.Errorf("result has no messageId: %s", res)
	}
	wantID := []byte("null")
	if ev := gjson.Parse(event); ev.IsObject() {
		if mid := jsonscan.LastMember(ev, "messageId"); present(mid) {
			wantID = []byte(mid.Raw)
		}
	}
	if !reflect.DeepEqual(testkit.DecodeNumbers(r["messageId"]), testkit.DecodeNumbers(wantID)) {
		t.Errorf("messageId %s, want %s", r["messageId"], wantID)
	}
}

// RudderStack routes a result by its status, so checkResultStatus requires a
// status and statusCode that agree with each other and with the outcome,
// calls, reason and errorType exactly as that status demands, and a
// well-formed reason, errorType and warnings, then reports whether the result
// has calls.
func checkResultStatus(t *testing.T, cfg *Config, o *Outcome, r map[string]json.RawMessage, res []byte) bool {
	t.Helper()
	var status string
	if err := json.Unmarshal(r["status"], &status); err != nil {
		t.Fatalf("status %s: %v", r["status"], err)
	}
	wantCode := map[string]string{"ok": "200", "filtered": "298", "error": "400"}[status]
	if wantCode == "" || string(r["statusCode"]) != wantCode {
		t.Fatalf("status %q with statusCode %s", status, r["statusCode"])
	}
	if status != o.Status.String() || strconv.Itoa(o.Status.Code()) != wantCode {
		t.Errorf("result status %q, outcome %v", status, o.Status)
	}
	_, hasCalls := r["calls"]
	_, hasReason := r["reason"]
	_, hasErrorType := r["errorType"]
	if hasCalls != (status == "ok") || hasReason != (status != "ok") || hasErrorType != (status == "error") {
		t.Fatalf("%s result with calls=%v reason=%v errorType=%v: %s", status, hasCalls, hasReason, hasErrorType, res)
	}
	if hasReason {
		var reason string
		if err := json.Unmarshal(r["reason"], &reason); err != nil || reason == "" {
			t.Errorf("reason %s is not a non-empty string", r["reason"])
		}
	}
	if hasErrorType {
		var et string
		_ = json.Unmarshal(r["errorType"], &et)
		if et != ErrInstrumentation && et != ErrConfiguration {
			t.Errorf("errorType %s", r["errorType"])
		}
	}
	if cfg.Err() != nil && (status != "error" || string(r["errorType"]) != `"configuration"`) {
		t.Errorf("config error %v but result %s", cfg.Err(), res)
	}
	if w, ok := r["warnings"]; ok {
		var ws []string
		if err := json.Unmarshal(w, &ws); err != nil || len(ws) == 0 {
			t.Errorf("warnings %s is not a non-empty list of strings", w)
		}
	}
	return hasCalls
}

// The browser runs an ok result's calls in order, so checkResultCalls requires
// the outcome's calls with known commands and object params, the alias call
// first and alone in carrying no beacon, a view call alone, and every beacon
// matching its call.
func checkResultCalls(t *testing.T, cfg *Config, o *Outcome, rawCalls json.RawMessage, res []byte, uid string) {
	t.Helper()
	var calls []struct {
		Command string          `json:"command"`
		Params  json.RawMessage `json:"params"`
		Beacon  *string         `json:"beacon"`
	}
	if err := json.Unmarshal(rawCalls, &calls); err != nil {
		t.Fatalf("calls: %v: %s", err, rawCalls)
	}
	if len(calls) == 0 || len(calls) != len(o.Calls) {
		t.Fatalf("ok result with %d calls (outcome %d): %s", len(calls), len(o.Calls), res)
	}
	alias, hasAlias := o.AliasID()
	for i, c := range calls {
		cmd, known := knownCommands[c.Command]
		if !known || cmd != o.Calls[i].Command {
			t.Fatalf("call %d: unknown command %q (outcome %v)", i, c.Command, o.Calls[i].Command)
		}
		if !gjson.ValidBytes(c.Params) || !gjson.ParseBytes(c.Params).IsObject() {
			t.Fatalf("call %d params are not an object: %s", i, c.Params)
		}
		switch {
		case cmd == CmdAlias && i != 0:
			t.Errorf("alias call at position %d: %s", i, res)
		case cmd == CmdAlias && (!hasAlias || string(c.Params) != `{"id":"`+alias+`"}`):
			t.Errorf("alias params %s, outcome alias %q %v", c.Params, alias, hasAlias)
		case cmd == CmdView && len(calls) != 1:
			t.Errorf("view with other calls: %s", res)
		}
		if (c.Beacon != nil) == (cmd == CmdAlias) {
			t.Fatalf("call %d (%s): beacon present=%v", i, c.Command, c.Beacon != nil)
		}
		if c.Beacon != nil {
			checkBeacon(t, cfg, cmd, c.Params, *c.Beacon, uid, alias, hasAlias)
		}
	}
}

// wantUID is the beacon's uid for an event, worked out apart from the
// engine: the SHA-256 hex of context.sessionId when it is a non-empty
// string or a non-zero number (its JSON text); "" for none.
func wantUID(event string) string {
	v := gjson.Parse(Canonical(event)).Get("context.sessionId")
	text := v.Str
	switch {
	case v.Type == gjson.String && v.Str != "":
	case v.Type == gjson.Number && strings.ContainsAny(strings.SplitN(strings.ToLower(v.Raw), "e", 2)[0], "123456789"):
		text = v.Raw
	default:
		return ""
	}
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// checkBeacon checks a beacon URL against its call (docs/BEHAVIOUR.md §5, image pixel form).
func checkBeacon(t *testing.T, cfg *Config, cmd Command, params []byte, beacon, uid, alias string, hasAlias bool) {
	t.Helper()
	if !strings.HasPrefix(beacon, DefaultBeaconURL+"?") {
		t.Fatalf("beacon %q does not start with %s?", beacon, DefaultBeaconURL)
	}
	u, err := url.Parse(beacon)
	if err != nil {
		t.Fatalf("beacon %q: %v", beacon, err)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		t.Fatalf("beacon %q query: %v", beacon, err)
	}
	want := url.Values{"key": {cfg.PixelID}, "a": {cmd.Action()}}
	p := gjson.ParseBytes(params)
	for _, name := range beaconNames {
		if v := p.Get(name); present(v) {
			if v.Type == gjson.String {
				want.Set(name, v.Str)
			} else {
				want.Set(name, v.Raw)
			}
		}
	}
	if uid != "" {
		want.Set("uid", uid)
	}
	if hasAlias {
		want.Set("alias", alias)
	}
	if len(q) != len(want) {
		t.Fatalf("beacon %q: params %v, want %v", beacon, q, want)
	}
	for k, v := range want {
		if len(q[k]) != 1 || q[k][0] != v[0] {
			t.Fatalf("beacon %q: %s=%q, want %q (params %s)", beacon, k, q[k], v[0], params)
		}
	}
}

// warmEvents leave a Transformer's buffers long and its view index in map
// mode, to catch state that leaks from one event into the next.
func warmEvents() []string {
	var big strings.Builder
	big.WriteString(`{"type":"page","messageId":"w1","context":{"page":{"url":"u","referrer":"r"}},"properties":{`)
	for i := range 40 {
		fmt.Fprintf(&big, `"k%d":%d,`, i, i)
	}
	big.WriteString(`"event_id":"e","value":1,"currency":"EUR","order_id":"o","discount_code":"d"}}`)
	return []string{
		big.String(),
		string(corpus.Purchase(1, 12)),
		`{"type":"track","event":"Product Added","userId":"u9","properties":{"products":[{"price":1},{"price":2},3]}}`,
		`{"type":"track","event":"Heartbeat","messageId":"w4"}`,
		`{"type":"identify"}`,
	}
}

// goldenSeeds returns the config and event of every golden case (none is fine).
func goldenSeeds(tb testing.TB) [][2][]byte {
	files, _ := filepath.Glob("../../testdata/golden/*.json")
	var out [][2][]byte
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			tb.Logf("golden seed %s: %v", file, err)
			continue
		}
		var c struct {
			Config json.RawMessage `json:"config"`
			Event  json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal(b, &c); err != nil {
			tb.Logf("golden seed %s: %v", file, err)
			continue
		}
		out = append(out, [2][]byte{c.Config, c.Event})
	}
	return out
}

type fuzzSeed struct{ name, config, event string }

const (
	cfgMinimal = `{"pixelId":"px"}`
	// cfgWide maps one event to every command, so that one event exercises
	// every parameter map, and configures every consent flavour.
	cfgWide = `{"pixelId":" p&x=1 ","enableAliasCall":true,
		"eventsToSpotifyPixelEvents":[
			{"from":"Order Completed","to":"purchase"},{"from":" Order Completed ","to":"Product"},
			{"from":"Order Completed","to":"addtocart"},{"from":"Order Completed","to":"checkout"},
			{"from":"Order Completed","to":"lead"},{"from":"Order Completed","to":" SIGNUP "},
			{"from":"Order Completed","to":"custom_event_3"},{"from":"Order Completed","to":"bogus"},
			{"from":"Order Completed","to":7},{"from":"Order Completed","to":"purchase"},
			{"from":"Only Bad","to":"nope"},{"from":"","to":"lead"},{"from":3,"to":"lead"}],
		"eventFilteringOption":"blacklistedEvents","blacklistedEvents":[{"eventName":" Heartbeat "},{"eventName":5}],
		"oneTrustCookieCategories":{"web":[{"oneTrustCookieCategory":"C0004"}]},
		"ketchConsentPurposes":[{"purpose":"analytics"},{"purpose":"ads"}],
		"consentManagement":{"web":[{"provider":"custom","resolutionStrategy":"or","consents":[{"consent":"a"},{"consent":"b"}]},
			{"provider":"iubenda","consents":[{"consent":""}]}]}}`
	cfgAllow = `{"pixelId":"px","eventFilteringOption":"whitelistedEvents","whitelistedEvents":[{"eventName":"Order Completed"},{"eventName":" Signed Up"},{}]}`
	cfgBad   = `{"enableAliasCall":"yes"}`
)

// fuzzSeeds are the hand-written seed pairs: docs/BEHAVIOUR.md's examples, every
// event type and decision, and hostile shapes at every field the engine reads.
func fuzzSeeds() []fuzzSeed {
	s := []fuzzSeed{
		// docs/BEHAVIOUR.md's examples (the golden cases repeat them with expectations).
		{"order-completed-alias", `{"pixelId":"p1","enableAliasCall":true}`,
			`{"type":"track","event":"Order Completed","userId":"u1","messageId":"m1","properties":{"total":100,"currency":"USD","discount_code":"D","order_id":"o1","is_new_customer":true,"quantity":2,"products":[{"product_id":"123","name":"A","price":50,"quantity":1,"brand":"B"},{"product_id":"456","price":25}]}}`},
		{"line-items-pass", `{"pixelId":"p1"}`,
			`{"type":"track","event":"Order Completed","messageId":"m2","properties":{"revenue":"9.90","line_items":[{"x":1}],"products":[{"product_id":"1"}]}}`},
		{"checkout-no-user", `{"pixelId":"p1","enableAliasCall":true}`,
			`{"type":"track","event":"Checkout Started","messageId":"m3","properties":{"price":10,"currency":"EUR","variant_id":"v"}}`},
		{"custom-many", `{"pixelId":"p1","eventsToSpotifyPixelEvents":[{"from":" Sub ","to":" Lead"},{"from":"Sub","to":"SIGNUP"},{"from":"Sub","to":"lead"},{"from":"Sub","to":"x"}]}`,
			`{"type":"track","event":"Sub","messageId":"m4","properties":{"price":1,"type":"t","category":"c"}}`},
		{"fan-out", `{"pixelId":"p1","enableAliasCall":true}`,
			`{"type":"track","event":"Product Added","userId":"u1","messageId":"m5","properties":{"currency":"USD","products":[{"product_id":"a","price":1,"quantity":2,"variant_id":"v"},{"product_id":"b"},"x",null]}}`},
		{"fan-out-empty", `{"pixelId":"p1","enableAliasCall":true}`,
			`{"type":"track","event":"Product Viewed","userId":"u1","messageId":"m6","properties":{"products":[]}}`},
		{"numeric-user", `{"pixelId":"p1","enableAliasCall":true}`,
			`{"type":"track","event":"Signed Up","userId":123,"messageId":"m7"}`},
		{"page-overlay", `{"pixelId":"p1","enableAliasCall":true}`,
			`{"type":"page","userId":"u1","messageId":"m7","context":{"page":{"url":"https://x.test/a","referrer":"https://r.test"}},"properties":{"title":"T","url":"https://x.test/b","gone":null,"value":"1.5","currency":"SEK"}}`},
		{"identify", cfgMinimal, `{"type":"identify","userId":"u1","traits":{"email":"a@b.c"}}`},
		{"event-number", cfgMinimal, `{"type":"track","event":42}`},
		{"allow-pass", cfgAllow, `{"type":"track","event":"Order Completed","properties":{"total":1}}`},
		{"allow-filter", cfgAllow, `{"type":"track","event":"Signed Up "}`},
		{"integrations-off", cfgMinimal, `{"type":"track","event":"Signed Up","integrations":{"All":false,"SPOTIFY_PIXEL":true}}`},
		{"onetrust-denied", `{"pixelId":"p","oneTrustCookieCategories":[{"oneTrustCookieCategory":"C1"}]}`,
			`{"type":"track","event":"Signed Up","context":{"consentManagement":{"deniedConsentIds":["C1"]}}}`},
		{"no-pixel", `{"enableAliasCall":true}`, `{"type":"track","event":"Signed Up"}`},
		// Every decision of docs/BEHAVIOUR.md §3 with the wide config.
		{"wide-all-commands", cfgWide,
			`{"type":"track","event":"Order Completed","userId":"u1","messageId":"m","properties":{"price":1,"value":2,"total":3,"revenue":4,"currency":"USD","type":"t","category":"c","product_id":"p","name":"n","product_type":"pt","brand":"b","quantity":5,"variant_id":"v","variant_name":"vn","discount_code":"d c&=","order_id":"o/1","is_new_customer":false,"event_id":17,"products":[{"price":9},{}]}}`},
		{"wide-denylisted", cfgWide, `{"type":"track","event":"Heartbeat"}`},
		{"wide-only-bad", cfgWide, `{"type":"track","event":"Only Bad"}`},
		{"wide-custom-or", cfgWide, `{"type":"track","event":"Order Completed","context":{"consentManagement":{"provider":"custom","deniedConsentIds":["a","b"]}}}`},
		{"wide-ketch", cfgWide, `{"type":"page","context":{"consentManagement":{"provider":"ketch","deniedConsentIds":["analytics","ads"]}}}`},
		{"wide-page-big", cfgWide, warmEvents()[0]},
		{"bad-config", cfgBad, `{"type":"track","event":"Signed Up"}`},
		{"bad-config-non-object", cfgBad, `[]`},
		// Hostile top-level shapes.
		{"empty", cfgMinimal, ``},
		{"null", cfgMinimal, `null`},
		{"number", cfgMinimal, `1e400`},
		{"string", cfgMinimal, `"track"`},
		{"array", cfgMinimal, `[{"type":"track"}]`},
		{"truncated", cfgMinimal, `{"type":"track","event":"Signed Up"`},
		{"nul-byte", cfgMinimal, "{\"type\":\"track\",\"event\":\"Signed\x00Up\"}"},
		{"nul-escaped", cfgMinimal, `{"type":"track","event":"Signed\u0000Up","messageId":"\u0000"}`},
		{"invalid-utf8-name", cfgMinimal, "{\"type\":\"track\",\"event\":\"\xff\xfe\",\"messageId\":\"m\xc3\"}"},
		{"invalid-utf8-page", cfgMinimal, "{\"type\":\"page\",\"properties\":{\"t\xff\":\"\xed\xa0\x80\"}}"},
		{"lone-surrogate", cfgMinimal, `{"type":"page","messageId":"\ud800","properties":{"\udfff":"\ud83d"}}`},
		{"deep", cfgMinimal, `{"type":"page","properties":{"x":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}}`},
		{"duplicate-keys", cfgMinimal, `{"type":"identify","type":"track","event":"Signed Up","event":1,"properties":{"price":1,"price":2}}`},
		{"escaped-keys", cfgMinimal, `{"\u0074ype":"track","\u0065vent":"Signed Up","properties":{"\u0070rice":3}}`},
		{"unicode-trim", `{"pixelId":"\u3000px\ufeff","enableAliasCall":true}`, `{"type":"\u2028TRACK\u00a0","event":"\ufeffSigned Up\u2029","userId":"\u00e9"}`},
		{"constructor", `{"pixelId":"p","eventsToSpotifyPixelEvents":[{"from":"constructor","to":"lead"}]}`, `{"type":"track","event":"__proto__"}`},
		{"config-invalid-json", `{"pixelId":`, `{"type":"track","event":"Signed Up"}`},
		{"config-empty", ``, `{"type":"page"}`},
		{"config-huge-pixel", `{"pixelId":"` + strings.Repeat("\U0001F600", 101) + `"}`, `{"type":"page"}`},
		{"config-pixel-100", `{"pixelId":"` + strings.Repeat("\U0001F600", 100) + `"}`, `{"type":"page"}`},
	}
	for i, e := range hostileEvents() {
		s = append(s, fuzzSeed{fmt.Sprintf("gen-field-%03d", i), cfgWide, e})
	}
	for i, c := range hostileConfigs() {
		s = append(s, fuzzSeed{fmt.Sprintf("gen-config-%03d", i), c,
			`{"type":"track","event":"Order Completed","userId":"u","messageId":"m","properties":{"total":1},"context":{"consentManagement":{"provider":"custom","deniedConsentIds":["a"]}}}`})
	}
	return s
}

// hostileValues are wrong or edgy JSON values tried at every field.
var hostileValues = []string{
	`null`, `""`, `" "`, `0`, `-0`, `-0.0e-0`, `1e400`, `-1e400`, `1.50`, `123456789012345678901234567890`,
	`true`, `false`, `[]`, `{}`, `[1,"a",null,{}]`, `{"a":{"b":[null]}}`, `"\u0000"`, `"\ud800"`,
	`"\u2028x\ufeff"`, `"constructor"`, `"a\"b\\c/d&e=f?g#h%i+j;k"`, `"` + strings.Repeat("é", 300) + `"`,
}

// eventTemplate names every field the engine reads; @name@ is replaced by
// the field's hostile value, or by its default.
const eventTemplate = `{"type":@type@,"event":@event@,"messageId":@messageId@,"userId":@userId@,"anonymousId":"anon",` +
	`"properties":@properties@,"context":@context@,"integrations":@integrations@}`

var templateDefaults = map[string]string{
	"type": `"track"`, "event": `"Order Completed"`, "messageId": `"mid"`, "userId": `"u1"`,
	"properties": `{"price":@price@,"value":@value@,"total":@total@,"revenue":@revenue@,"currency":@currency@,` +
		`"type":@ptype@,"category":@category@,"product_id":@product_id@,"name":@name@,"product_type":@product_type@,` +
		`"brand":@brand@,"quantity":@quantity@,"variant_id":@variant_id@,"variant_name":@variant_name@,` +
		`"discount_code":@discount_code@,"order_id":@order_id@,"is_new_customer":@is_new_customer@,` +
		`"event_id":@event_id@,"line_items":@line_items@,"products":@products@}`,
	"price": `1`, "value": `2`, "total": `3`, "revenue": `4`, "currency": `"USD"`, "ptype": `"t"`, "category": `"c"`,
	"product_id": `"p1"`, "name": `"n"`, "product_type": `"pt"`, "brand": `"b"`, "quantity": `1`, "variant_id": `"v"`,
	"variant_name": `"vn"`, "discount_code": `"dc"`, "order_id": `"o1"`, "is_new_customer": `true`, "event_id": `"e1"`,
	"line_items": `null`, "products": `[{"product_id":@elem_product_id@,"price":@elem_price@},@element@]`,
	"elem_product_id": `"p2"`, "elem_price": `5`, "element": `{"name":"x"}`,
	"context": `{"page":@page@,"traits":@traits@,"consentManagement":@consent@}`,
	"page":    `{"url":@url@,"referrer":@referrer@}`, "url": `"https://x.test/"`, "referrer": `"https://r.test/"`,
	"traits": `{"userId":@traits_userId@,"id":@traits_id@}`, "traits_userId": `"tu"`, "traits_id": `"ti"`,
	"consent": `{"deniedConsentIds":@denied@,"provider":@provider@,"resolutionStrategy":@strategy@}`,
	"denied":  `["C0002"]`, "provider": `"oneTrust"`, "strategy": `"and"`,
	"integrations": `{"All":@all@,"Spotify Pixel":@sp@}`, "all": `true`, "sp": `{}`,
}

// fillTemplate replaces every @name@ of tmpl by defaults[name], or by value
// for field, until none is left.
func fillTemplate(tmpl string, defaults map[string]string, field, value string) string {
	for {
		i := strings.IndexByte(tmpl, '@')
		if i < 0 {
			return tmpl
		}
		j := strings.IndexByte(tmpl[i+1:], '@')
		name := tmpl[i+1 : i+1+j]
		v, ok := defaults[name]
		if name == field {
			v, ok = value, true
		}
		if !ok {
			panic("unknown template field " + name)
		}
		tmpl = tmpl[:i] + v + tmpl[i+2+j:]
	}
}

// hostileEvents puts every hostile value at every field, as a track event
// and, for the fields a page reads, as a page event.
func hostileEvents() []string {
	pageFields := map[string]bool{"properties": true, "context": true, "page": true, "url": true, "referrer": true,
		"event_id": true, "messageId": true, "value": true, "currency": true, "order_id": true, "discount_code": true}
	var out []string
	for field := range templateDefaults {
		for _, v := range hostileValues {
			ev := fillTemplate(eventTemplate, templateDefaults, field, v)
			out = append(out, ev)
			if pageFields[field] {
				out = append(out, strings.Replace(ev, `"type":"track"`, `"type":"page"`, 1))
			}
		}
	}
	slices.Sort(out) // map order is random: sort for stable seeds
	return out
}

const configTemplate = `{"pixelId":@pixelId@,"eventsToSpotifyPixelEvents":@mappings@,"enableAliasCall":@alias@,` +
	`"eventFilteringOption":@option@,"whitelistedEvents":@allow@,"blacklistedEvents":@deny@,` +
	`"oneTrustCookieCategories":@onetrust@,"ketchConsentPurposes":@ketch@,"consentManagement":@generic@}`

var configFields = map[string]string{
	"pixelId": `"px"`, "mappings": `[{"from":@from@,"to":@to@}]`, "from": `"Order Completed"`, "to": `"checkout"`,
	"alias": `true`, "option": `"blacklistedEvents"`, "allow": `[{"eventName":@allowName@}]`, "allowName": `"x"`,
	"deny": `[{"eventName":@denyName@}]`, "denyName": `"y"`, "onetrust": `{"web":[{"oneTrustCookieCategory":@category@}]}`,
	"category": `"C1"`, "ketch": `[{"purpose":@purpose@}]`, "purpose": `"k"`,
	"generic":   `[{"provider":@gprovider@,"resolutionStrategy":@gstrategy@,"consents":@consents@}]`,
	"gprovider": `"custom"`, "gstrategy": `"or"`, "consents": `[{"consent":@consent@}]`, "consent": `"a"`,
}

// hostileConfigs puts every hostile value at every config field.
func hostileConfigs() []string {
	var out []string
	for field := range configFields {
		for _, v := range hostileValues {
			out = append(out, fillTemplate(configTemplate, configFields, field, v))
		}
	}
	slices.Sort(out)
	return out
}

// TestFuzzSeedsValid keeps the generated seeds honest: the templates must
// give valid JSON for every JSON hostile value.
func TestFuzzSeedsValid(t *testing.T) {
	for _, e := range hostileEvents() {
		if !gjson.Valid(e) {
			t.Errorf("hostile event is not valid JSON: %s", e)
		}
	}
	for _, c := range hostileConfigs() {
		if !gjson.Valid(c) {
			t.Errorf("hostile config is not valid JSON: %s", c)
		}
	}
	if n := len(fuzzSeeds()); n < 200 {
		t.Errorf("only %d seeds", n)
	}
}

// eventLimit is how deep an event of a default /transform body may nest: it
// sits two levels down, in the body's batch.
const eventLimit = jsonscan.MaxDepth - 2
