// Package spotify is the engine: it turns RudderStack events into the Spotify
// Pixel calls one destination's configuration asks for. It is pure (bytes in,
// bytes out, no I/O) so that every front (HTTP, RudderStack, CLI) shares one
// implementation of the rules in docs/BEHAVIOUR.md §2 to §6.
package spotify

import (
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/capi"
	"spotifypixel/internal/idhash"
	"spotifypixel/internal/jsonscan"
)

// DefaultBeaconURL is Spotify's image-pixel endpoint, the default base of beacons.
const DefaultBeaconURL = "https://img.byspotify.com/"

// Options select optional outputs of a transformation.
type Options struct {
	Beacons   bool             // add the image-pixel URL to each conversion and view call
	BeaconURL string           // base of beacon URLs; empty means DefaultBeaconURL
	CAPI      bool             // add each ok result's Conversions API events (docs/BEHAVIOUR.md §8)
	Now       func() time.Time // the clock for event_time; nil means time.Now
	Explain   bool             // add each result's decision steps, "explain" (explain.go)
}

// Transformer applies one Config to events. It reuses its buffers between
// events, so it is not safe for concurrent use: give each goroutine its own.
type Transformer struct {
	cfg      *Config
	opts     Options
	o        Outcome
	top      topFields
	props    fields
	elem     fields
	denied   []string
	view     []member
	viewIdx  map[string]int // view key → position, once the view is large
	viewMap  bool           // viewIdx is in use for the current page event
	viewKeys uint64         // a bit per view key's length and first byte: most lookups of a new key end here
	scratch  []byte
	// beaconHead is the start of every beacon URL (base, pixel id, "&a=")
	// as a quoted JSON string, made once per Reset.
	beaconHead []byte
	utf8OK     bool         // the text being transformed is known to be valid UTF-8
	limit      int          // how deep an event may nest: a batch's limit less its enclosing levels
	capi       capi.Events  // the current result's Conversions API events
	capiAll    *capi.Events // where every result's CAPI events are collected, or nil
	// The explain trace of the current result (Options.Explain), and what
	// the consent step compared, for it.
	trace, detail   []byte
	consentProvider string
	consentIDs      []string
	consentAny      bool
}

// member is one key of the view call's params.
type member struct {
	key    string // unescaped, for comparison
	rawKey string // as written, quotes included
	raw    string // the value as written; "" once removed
}

// NewTransformer returns a Transformer for cfg (from ParseConfig, possibly
// carrying a configuration error) and opts.
func NewTransformer(cfg *Config, opts Options) *Transformer {
	t := &Transformer{}
	t.Reset(cfg, opts)
	return t
}

// Reset points the Transformer at another config and options, keeping its
// buffers, so that a pool of Transformers serves every destination.
func (t *Transformer) Reset(cfg *Config, opts Options) {
	if opts.BeaconURL == "" {
		opts.BeaconURL = DefaultBeaconURL
	}
	t.cfg, t.opts, t.utf8OK, t.capiAll, t.limit = cfg, opts, false, nil, jsonscan.NoLimit
	if opts.Beacons && cfg != nil {
		t.scratch = appendBeaconHead(t.scratch[:0], opts.BeaconURL, cfg.pixelIDQuery)
		t.beaconHead = jsonscan.AppendString(t.beaconHead[:0], jsonscan.Str(t.scratch))
	}
}

// Forget drops every reference the Transformer holds into the text and
// config it was given, keeping its buffers, so that a pooled Transformer
// does not keep a finished request's body (or a replaced config) alive.
func (t *Transformer) Forget() {
	t.cfg, t.capiAll = nil, nil
	t.o.reset()
	clear(t.o.Calls[:cap(t.o.Calls)])
	t.top = topFields{}
	t.props.forget()
	t.elem.forget()
	clear(t.denied[:cap(t.denied)])
	clear(t.view[:cap(t.view)])
	clear(t.viewIdx)
	t.viewMap = false
}

// CollectCAPI makes the Transformer add every result's Conversions API
// events to all (with Options.CAPI), for the response's envelopes.
func (t *Transformer) CollectCAPI(all *capi.Events) { t.capiAll = all }

// Config returns the configuration the Transformer applies.
func (t *Transformer) Config() *Config { return t.cfg }

// Transform decides one event (raw JSON text) in docs/BEHAVIOUR.md §3's order and
// builds its calls. The Outcome is valid until the next call.
func (t *Transformer) Transform(event string) *Outcome {
	o, _ := t.transformAt(event, 0)
	return o
}

// TransformBytes is Transform for a byte slice, without copying it; b must
// not change until the Outcome is no longer used.
func (t *Transformer) TransformBytes(b []byte) *Outcome { return t.Transform(jsonscan.Str(b)) }

// Fail records a failure that a front found before the engine could read the
// event (an NDJSON line that is not JSON, say), so that it is counted and
// rendered like any other result.
func (t *Transformer) Fail(errorType, reason string) *Outcome {
	t.o.reset()
	t.trace = t.trace[:0]
	return t.stopped(StepInput, t.o.fail(errorType, reason))
}

// transformAt transforms the event that starts at s[i] (after whitespace)
// and returns the index just past it, so that a batch is walked only once.
func (t *Transformer) transformAt(s string, i int) (*Outcome, int) {
	o := &t.o
	o.reset()
	t.trace = t.trace[:0]
	i = jsonscan.SkipWS(s, i)
	if i >= len(s) || s[i] != '{' {
		end := jsonscan.SkipValue(s, i, t.limit)
		o.Event = jsonscan.Value(s[i:end])
		return t.stopped(StepShape, t.configOr(o, "event must be a JSON object")), end
	}
	end := t.top.scan(s, i, t.limit, &t.props)
	event := s[i:end]
	o.Event = jsonscan.Value(event)
	return t.decide(o, event), end
}

// decide applies docs/BEHAVIOUR.md §3 to the scanned event.
func (t *Transformer) decide(o *Outcome, event string) *Outcome {
	top := &t.top
	if id := top.get(tMessageID); present(id) {
		o.MessageID = id
	}
	if !t.utf8OK && !utf8.ValidString(event) {
		return t.stopped(StepShape, t.configOr(o, "event is not valid UTF-8"))
	}
	if t.opts.Explain {
		t.explainText(StepShape.String(), verdictPass, "a JSON object")
	}
	typv := top.get(tType)
	if typv.Type != gjson.String {
		return t.stopped(StepType, t.configOr(o, "type must be a string"))
	}
	typ := trim(typv.Str)
	switch {
	case equalFoldASCII(typ, "track"):
		o.Kind = KindTrack
	case equalFoldASCII(typ, "page"):
		o.Kind = KindPage
	default:
		o.Kind = KindOther
	}
	if t.cfg.err != nil {
		return t.stopped(StepConfig, o.fail(ErrConfiguration, t.cfg.err.Message))
	}
	if t.opts.Explain {
		t.explainQuoted(StepConfig.String(), verdictPass, "pixel id ", t.cfg.PixelID, "")
	}
	if !t.integrationsAllow(o, top.get(tIntegrations)) {
		return t.stopped(StepIntegrations, o)
	}
	if t.opts.Explain {
		t.explainIntegrations()
	}
	allowed := t.consentAllow(o)
	if t.opts.Explain {
		t.explainConsent(o, allowed)
	}
	if !allowed {
		o.Step = StepConsent
		return o
	}
	o.session = top.idAt(tSessionID)
	switch o.Kind {
	case KindTrack:
		if t.opts.Explain {
			t.explainQuoted(StepType.String(), verdictPass, "type ", typ, ": track")
		}
		t.track(o)
	case KindPage:
		if t.opts.Explain {
			t.explainQuoted(StepType.String(), verdictPass, "type ", typ, ": page")
		}
		t.page(o)
	default:
		o.filter("message type ")
		o.reason = appendLowerASCII(o.reason, typ)
		o.reason = append(o.reason, " is not supported"...)
		t.stopped(StepType, o)
	}
	return o
}

// stopped records that step decided o (and, when explaining, why), and
// returns o.
func (t *Transformer) stopped(step Step, o *Outcome) *Outcome {
	o.Step = step
	if t.opts.Explain {
		t.explainStop(step, o)
	}
	return o
}

// explainIntegrations records what the integrations step read.
func (t *Transformer) explainIntegrations() {
	if integ := t.top.get(tIntegrations); present(integ) {
		t.explainRaw(StepIntegrations.String(), verdictPass, "allowed by ", canonical(integ.Raw))
		return
	}
	t.explainText(StepIntegrations.String(), verdictPass, "absent: allowed")
}

// configOr fails the event with the configuration error when there is one
// (it concerns the whole batch), else with the instrumentation reason.
func (t *Transformer) configOr(o *Outcome, reason string) *Outcome {
	if t.cfg.err != nil {
		return o.fail(ErrConfiguration, t.cfg.err.Message)
	}
	return o.fail(ErrInstrumentation, reason)
}

func (o *Outcome) fail(errorType, reason string) *Outcome {
	o.Status, o.ErrorType = StatusError, errorType
	o.Calls = o.Calls[:0]
	o.reason = append(o.reason[:0], reason...)
	return o
}

// filter marks the outcome filtered and starts its reason.
func (o *Outcome) filter(reason string) {
	o.Status = StatusFiltered
	o.Calls = o.Calls[:0]
	o.reason = append(o.reason[:0], reason...)
}

func (o *Outcome) filterQuoted(before, name, after string) {
	o.filter(before)
	o.reason = jsonscan.AppendString(o.reason, name)
	o.reason = append(o.reason, after...)
}

func appendLowerASCII(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// destinationKeys are the integrations keys that name this destination, in
// the order in which the first present one decides.
var destinationKeys = [...]string{"Spotify Pixel", "SPOTIFYPIXEL", "spotify pixel", "SPOTIFY_PIXEL"}

// integrationsAllow applies docs/BEHAVIOUR.md §3, step 2.
func (t *Transformer) integrationsAllow(o *Outcome, integ gjson.Result) bool {
	if !present(integ) {
		return true
	}
	if !integ.IsObject() {
		o.filter("integrations is not an object")
		return false
	}
	if integ.Raw == `{"All":true}` { // the SDKs' default: allowed, no walk
		return true
	}
	var all gjson.Result
	var dest [len(destinationKeys)]gjson.Result
	jsonscan.EachMember(integ.Raw, func(k, _, raw string) bool { // a repeated key: the last one wins
		if k == "All" {
			all = jsonscan.Value(raw)
			return true
		}
		for i, name := range destinationKeys {
			if k == name {
				dest[i] = jsonscan.Value(raw)
			}
		}
		return true
	})
	allow := true
	if present(all) {
		if !all.IsBool() {
			o.filter("integrations.All is not a boolean")
			return false
		}
		allow = all.Bool()
	}
	for _, v := range dest {
		if !present(v) {
			continue
		}
		if v.IsBool() {
			allow = v.Bool()
		} else if v.IsObject() {
			allow = true
		}
		break
	}
	if !allow {
		o.filter("Spotify Pixel is disabled by integrations")
	}
	return allow
}

// track applies docs/BEHAVIOUR.md §3, steps 5 to 7 and builds the calls of a track event.
func (t *Transformer) track(o *Outcome) {
	ev := t.top.get(tEvent)
	name := ""
	if ev.Type == gjson.String {
		name = trim(ev.Str)
	}
	switch t.cfg.filter {
	case filterDeny:
		if _, ok := t.cfg.deny[name]; ok && name != "" {
			o.filterQuoted("event ", name, " is in the denylist")
			t.stopped(StepFilter, o)
			return
		}
	case filterAllow:
		if name == "" {
			o.filter("event has no name, so it is not in the allowlist")
			t.stopped(StepFilter, o)
			return
		}
		if _, ok := t.cfg.allow[name]; !ok {
			o.filterQuoted("event ", name, " is not in the allowlist")
			t.stopped(StepFilter, o)
			return
		}
	}
	if t.opts.Explain {
		t.explainFilter(name)
	}
	if present(ev) && ev.Type != gjson.String {
		o.fail(ErrInstrumentation, "event must be a string")
		t.stopped(StepName, o)
		return
	}
	if name == "" {
		o.fail(ErrInstrumentation, "event is required")
		t.stopped(StepName, o)
		return
	}
	var targets []Command
	m, custom := t.cfg.custom[name]
	if custom {
		targets, o.Warnings = m.targets, m.warnings
	} else {
		targets = standardMapping[name]
	}
	if len(targets) == 0 {
		o.filter("no Spotify Pixel event mapped for ")
		o.reason = append(o.reason, name...)
		t.stopped(StepMapping, o)
		return
	}
	if t.opts.Explain {
		t.explainMapping(name, custom, targets)
	}
	t.conversions(o, targets)
}

// conversions builds the alias and conversion calls of a mapped track event.
func (t *Transformer) conversions(o *Outcome, targets []Command) {
	id := eventIDOf(t.props.get(sEventID), t.top.get(tMessageID))
	if t.cfg.alias {
		t.computeAlias(o)
	}
	if t.opts.Explain {
		t.explainAlias(o)
	}
	if o.hasAlias {
		start := len(o.buf)
		o.buf = append(o.buf, `{"id":"`...)
		o.buf = append(o.buf, o.alias[:]...)
		o.buf = append(o.buf, `"}`...)
		o.Calls = append(o.Calls, Call{Command: CmdAlias, start: start, end: len(o.buf)})
	}
	emitted := false
	for _, cmd := range targets {
		products := t.props.get(sProducts)
		if cmd.spec().fanOut && products.IsArray() {
			n := 0
			t.eachProduct(products.Raw, func() {
				t.addCall(o, cmd, &t.elem, id, n)
				n++
			})
			if t.opts.Explain {
				t.explainFanOut(cmd, n)
			}
			emitted = emitted || n > 0
			continue
		}
		t.addCall(o, cmd, nil, id, -1)
		emitted = true
	}
	if !emitted {
		o.hasAlias = false
		o.filter("products is an empty array")
		t.stopped(StepFanOut, o)
	}
}

// addCall appends one conversion call; elem is the product element of a
// fan-out (nil otherwise) and n its position (-1: not a fan-out).
func (t *Transformer) addCall(o *Outcome, cmd Command, elem *fields, id gjson.Result, n int) {
	o.Calls = append(o.Calls, Call{Command: cmd, start: len(o.buf)})
	c := &o.Calls[len(o.Calls)-1]
	o.buf = append(o.buf, '{')
	o.buf = t.appendMap(o.buf, cmd.spec().params, &t.props, elem, c)
	o.buf = appendEventID(o.buf, id, n, c)
	o.buf = append(o.buf, '}')
	c.end = len(o.buf)
	if t.opts.Explain {
		t.explainCall(o, cmd, elem, n)
	}
}

// computeAlias hashes the first usable external id (docs/BEHAVIOUR.md §4.4).
func (t *Transformer) computeAlias(o *Outcome) {
	top := &t.top
	top.lookInside(tTraits)
	for _, v := range [3]gjson.Result{top.get(tUserID), top.get(tTraitsUserID), top.get(tTraitsID)} {
		if s, ok := idText(v); ok {
			idhash.AppendSHA256Hex(o.alias[:0], s)
			o.hasAlias = true
			return
		}
	}
}

// idText returns the text of an id that is hashed (the alias's external id,
// the beacon's session id): a non-empty string, or a non-zero number as its
// JSON text; anything else is no id.
func idText(v gjson.Result) (string, bool) {
	switch {
	case isNonEmptyString(v):
		return v.Str, true
	case v.Type == gjson.Number && !isZeroNumber(v.Raw):
		return v.Raw, true
	}
	return "", false
}

// page builds the view call of a page event (docs/BEHAVIOUR.md §4.3).
func (t *Transformer) page(o *Outcome) {
	t.view, t.viewMap, t.viewKeys = t.view[:0], false, 0
	top := &t.top
	if top.has(tPageURL) {
		t.setViewMember("url", `"url"`, top.raw[tPageURL])
	}
	if top.has(tPageReferrer) {
		t.setViewMember("referrer", `"referrer"`, top.raw[tPageReferrer])
	}
	for _, m := range t.props.list { // properties' members, read in the event's walk
		t.setViewMember(m.key, m.rawKey, m.raw)
	}
	idx := t.viewIndex("event_id")
	propsHasID := idx >= 0 && presentRaw(t.view[idx].raw)
	var id gjson.Result
	if !propsHasID {
		id = eventIDOf(gjson.Result{}, top.get(tMessageID))
		if id.Exists() && idx >= 0 {
			t.view[idx].raw = "" // replaced by the messageId below
		}
	}
	c := Call{Command: CmdView, start: len(o.buf)}
	o.buf = append(o.buf, '{')
	for _, m := range t.view {
		if m.raw == "" || m.raw == "null" {
			continue
		}
		raw := canonical(m.raw) // an object or array copied whole repeats no key
		o.buf = appendMember(o.buf, m.rawKey, ":")
		o.buf = append(o.buf, raw...)
		if b := beaconSlot(m.key); b >= 0 {
			c.beacon[b] = raw
		}
		switch m.key {
		case "product_name":
			c.productName = raw
		case "event_id":
			c.idStart, c.idEnd = len(o.buf)-len(raw), len(o.buf)
		}
	}
	o.buf = appendEventID(o.buf, id, -1, &c)
	o.buf = append(o.buf, '}')
	c.end = len(o.buf)
	o.Calls = append(o.Calls, c)
	if t.opts.Explain {
		t.explainView(len(t.props.list), top.has(tPageURL), top.has(tPageReferrer), propsHasID)
	}
}

// keyBit is key's bit in Transformer.viewKeys.
func keyBit(key string) uint64 {
	h := uint(len(key))
	if key != "" {
		h = h*7 + uint(key[0])
	}
	return 1 << (h & 63)
}

// setViewMember overlays one properties key on the view params: an existing
// key keeps its place and takes the new value.
func (t *Transformer) setViewMember(key, rawKey, raw string) {
	if i := t.viewIndex(key); i >= 0 {
		t.view[i].raw = raw
		return
	}
	t.view = append(t.view, member{key: key, rawKey: rawKey, raw: raw})
	t.viewKeys |= keyBit(key)
	if t.viewMap {
		t.viewIdx[key] = len(t.view) - 1
	}
}

// viewIndex finds key among the view members: a linear scan for the usual
// handful of keys, a map once properties are large.
func (t *Transformer) viewIndex(key string) int {
	const linearMax = 32
	if t.viewKeys&keyBit(key) == 0 {
		return -1 // no key with this length and first byte yet
	}
	if !t.viewMap && len(t.view) <= linearMax {
		for i := range t.view {
			if t.view[i].key == key {
				return i
			}
		}
		return -1
	}
	if !t.viewMap {
		if t.viewIdx == nil {
			t.viewIdx = make(map[string]int, 2*len(t.view))
		}
		clear(t.viewIdx)
		for i := range t.view {
			t.viewIdx[t.view[i].key] = i
		}
		t.viewMap = true
	}
	if i, ok := t.viewIdx[key]; ok {
		return i
	}
	return -1
}

// AppendResult appends the docs/BEHAVIOUR.md §5 result of the last Transform at position index.
func (t *Transformer) AppendResult(dst []byte, index int) []byte {
	return t.appendResult(dst, index, &t.o)
}
