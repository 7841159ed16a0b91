package spotify

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/idhash"
	"spotifypixel/internal/jsonscan"
)

// Status is an event's outcome as RudderStack's transformer reports it.
type Status uint8

// The three outcomes of docs/BEHAVIOUR.md §5.
const (
	StatusOK Status = iota
	StatusFiltered
	StatusError
)

var statusNames = [...]string{"ok", "filtered", "error"}

// String returns the status word used in results and metric labels.
func (s Status) String() string { return statusNames[s] }

// Code returns the RudderStack status code: 200, 298 or 400.
func (s Status) Code() int {
	switch s {
	case StatusFiltered:
		return 298
	case StatusError:
		return 400
	}
	return 200
}

// Kind classifies an event by type for metrics.
type Kind uint8

// Event kinds: a supported type, another string type, or no usable type.
const (
	KindInvalid Kind = iota
	KindTrack
	KindPage
	KindOther
	NumKinds // the number of kinds, for arrays indexed by Kind
)

var kindNames = [NumKinds]string{"invalid", "track", "page", "other"}

// String returns the kind's metric label.
func (k Kind) String() string { return kindNames[k] }

// Error types of failed events, as RudderStack's statTags name them.
const (
	ErrInstrumentation = "instrumentation"
	ErrConfiguration   = "configuration"
)

// Call is one Spotify Pixel call of an outcome.
type Call struct {
	Command Command
	start   int // params span in Outcome.buf
	end     int
	beacon  [numBeacon]string // raw JSON of the beacon's values, by slot; "" when absent
	// What the Conversions API reads besides the beacon's values: the raw
	// product_name, and where the event_id value stands in Outcome.buf.
	productName    string
	idStart, idEnd int
}

// Outcome is the engine's decision for one event. It is owned by the
// Transformer that made it and valid until that Transformer's next call.
type Outcome struct {
	Kind      Kind
	Status    Status
	ErrorType string       // ErrInstrumentation or ErrConfiguration, for errors
	Step      Step         // the step that filtered or failed the event; StepNone when ok
	MessageID gjson.Result // the raw messageId, zero when absent
	Warnings  []string     // skipped mapping targets; shared, do not modify
	Calls     []Call       // alias first, then conversions, for StatusOK
	Event     gjson.Result // the event itself, for fronts that read more of it
	reason    []byte
	buf       []byte
	alias     [64]byte
	hasAlias  bool
	session   string   // context.sessionId as text, "" when it is no id
	uid       [64]byte // its SHA-256 hex, made when a beacon first needs it
	hasUID    bool
	// The last session id hashed and its hash, kept from event to event:
	// a batch often holds one visitor's session many times.
	lastSession []byte
	lastUID     [64]byte
}

// sessionUID returns the hashed session id that beacons carry as uid
// (BEHAVIOUR.md §5), hashing it once per event.
func (o *Outcome) sessionUID() ([]byte, bool) {
	if o.session == "" {
		return nil, false
	}
	if !o.hasUID {
		if o.lastSession == nil || string(o.lastSession) != o.session {
			idhash.AppendSHA256Hex(o.lastUID[:0], o.session)
			o.lastSession = append(o.lastSession[:0], o.session...)
		}
		o.uid, o.hasUID = o.lastUID, true
	}
	return o.uid[:], true
}

func (o *Outcome) reset() {
	*o = Outcome{reason: o.reason[:0], buf: o.buf[:0], Calls: o.Calls[:0], lastSession: o.lastSession, lastUID: o.lastUID}
}

// Reason returns why the event was filtered or failed.
func (o *Outcome) Reason() string { return string(o.reason) }

// Params returns the JSON object of call i's parameters.
func (o *Outcome) Params(i int) []byte { c := &o.Calls[i]; return o.buf[c.start:c.end] }

// AliasID returns the hashed external id when an alias was computed.
func (o *Outcome) AliasID() (string, bool) { return string(o.alias[:]), o.hasAlias }

// BeaconParams calls fn for each image-pixel query parameter of call i after
// key and a, in BEHAVIOUR.md §5's order: value, currency, order_id,
// discount_code, type, uid, alias.
func (o *Outcome) BeaconParams(i int, fn func(name string, v gjson.Result)) {
	c := &o.Calls[i]
	for b, raw := range c.beacon {
		if presentRaw(raw) {
			fn(beaconNames[b], jsonscan.Value(raw))
		}
	}
	if uid, ok := o.sessionUID(); ok {
		fn("uid", gjson.Result{Type: gjson.String, Str: string(uid)})
	}
	if o.hasAlias {
		fn("alias", gjson.Result{Type: gjson.String, Str: string(o.alias[:])})
	}
}

// appendBeaconHead appends the part of an image-pixel URL that every call
// of a destination shares: base?key=<pixel id>&a= (base's own query kept).
func appendBeaconHead(dst []byte, base string, pixelIDQuery []byte) []byte {
	dst = append(dst, base...)
	if strings.IndexByte(base, '?') >= 0 {
		dst = append(dst, '&')
	} else {
		dst = append(dst, '?')
	}
	dst = append(dst, "key="...)
	dst = append(dst, pixelIDQuery...)
	return append(dst, "&a="...)
}

// appendBeaconTail appends the rest of call i's image-pixel URL: the action
// and the query parameters. Every byte of it is URL-safe ASCII, so it goes
// into a JSON string as it is.
func (o *Outcome) appendBeaconTail(dst []byte, i int) []byte {
	c := &o.Calls[i]
	dst = append(dst, c.Command.Action()...)
	for b, raw := range c.beacon {
		if !presentRaw(raw) {
			continue
		}
		dst = append(dst, '&')
		dst = append(dst, beaconNames[b]...)
		dst = append(dst, '=')
		if raw[0] == '"' {
			dst = appendQueryEscape(dst, jsonscan.Value(raw).Str)
		} else {
			dst = appendQueryEscape(dst, raw)
		}
	}
	if uid, ok := o.sessionUID(); ok {
		dst = append(dst, "&uid="...)
		dst = append(dst, uid...)
	}
	if o.hasAlias {
		dst = append(dst, "&alias="...)
		dst = append(dst, o.alias[:]...)
	}
	return dst
}

// appendResult appends the docs/BEHAVIOUR.md §5 result object of the outcome.
func (t *Transformer) appendResult(dst []byte, index int, o *Outcome) []byte {
	mark := len(t.trace) // the output steps below are this rendering's alone
	dst = append(dst, `{"index":`...)
	dst = strconv.AppendInt(dst, int64(index), 10)
	dst = append(dst, `,"messageId":`...)
	switch {
	case !present(o.MessageID):
		dst = append(dst, "null"...)
	case !t.utf8OK && !utf8.ValidString(o.MessageID.Raw):
		dst = jsonscan.AppendValidUTF8(dst, canonical(o.MessageID.Raw))
	default:
		dst = append(dst, canonical(o.MessageID.Raw)...)
	}
	dst = append(dst, `,"status":"`...)
	dst = append(dst, o.Status.String()...)
	dst = append(dst, `","statusCode":`...)
	dst = strconv.AppendInt(dst, int64(o.Status.Code()), 10)
	if o.Status == StatusOK {
		dst = append(dst, `,"calls":[`...)
		for i := range o.Calls {
			if i > 0 {
				dst = append(dst, ',')
			}
			c := &o.Calls[i]
			dst = append(dst, `{"command":"`...)
			dst = append(dst, c.Command.String()...)
			dst = append(dst, `","params":`...)
			dst = append(dst, o.Params(i)...)
			if t.opts.Beacons && c.Command.HasBeacon() {
				dst = append(dst, `,"beacon":`...)
				dst = append(dst, t.beaconHead[:len(t.beaconHead)-1]...) // its closing quote comes last
				dst = o.appendBeaconTail(dst, i)
				dst = append(dst, '"')
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
		if t.opts.Explain {
			t.explainBeacons(o)
		}
		if t.opts.CAPI {
			dst = t.appendCAPI(dst)
		}
	} else {
		dst = append(dst, `,"reason":`...)
		dst = jsonscan.AppendString(dst, jsonscan.Str(o.reason))
		if o.Status == StatusError {
			dst = append(dst, `,"errorType":"`...)
			dst = append(dst, o.ErrorType...)
			dst = append(dst, '"')
		}
	}
	if len(o.Warnings) > 0 {
		dst = append(dst, `,"warnings":[`...)
		for i, w := range o.Warnings {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonscan.AppendString(dst, w)
		}
		dst = append(dst, ']')
	}
	if t.opts.Explain {
		dst = t.appendTrace(dst)
		t.trace = t.trace[:mark]
	}
	return append(dst, '}')
}

// appendCAPI appends the result's "capi" events or its "capiSkipped" reason,
// and adds the events to the response's collection.
func (t *Transformer) appendCAPI(dst []byte) []byte {
	t.capi.Reset()
	n, reason := t.CAPIEvents(&t.capi)
	if t.opts.Explain {
		t.explainCAPI(n, reason)
	}
	if reason != "" {
		dst = append(dst, `,"capiSkipped":`...)
		return jsonscan.AppendString(dst, reason)
	}
	dst = append(dst, `,"capi":[`...)
	dst = t.capi.AppendAll(dst)
	if t.capiAll != nil {
		for i := range t.capi.Len() {
			t.capiAll.Add(t.capi.Event(i))
		}
	}
	return append(dst, ']')
}
