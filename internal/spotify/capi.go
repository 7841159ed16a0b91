package spotify

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/idhash"
	"spotifypixel/internal/jsonscan"
)

// Reasons an ok event is not sent to the Conversions API.
const (
	capiNoIdentifier = "no identifier for the Conversions API (email, phone, IP address or device id)"
	capiNoEventID    = "no event_id (neither properties.event_id nor messageId) to de-duplicate with the pixel"
)

// CAPIEvents collects Conversions API events, in order, for the envelopes of
// a response.
type CAPIEvents struct {
	buf  []byte
	ends []int
}

// AppendAll appends every event, comma-separated.
func (c *CAPIEvents) AppendAll(dst []byte) []byte {
	for i := range c.Len() {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, c.Event(i)...)
	}
	return dst
}

// Len is the number of events collected.
func (c *CAPIEvents) Len() int { return len(c.ends) }

// Reset empties c, keeping its memory.
func (c *CAPIEvents) Reset() { c.buf, c.ends = c.buf[:0], c.ends[:0] }

func (c *CAPIEvents) add(ev []byte) {
	c.buf = append(c.buf, ev...)
	c.ends = append(c.ends, len(c.buf))
}

// truncate drops the events from the n-th on.
func (c *CAPIEvents) truncate(n int) {
	c.ends = c.ends[:n]
	if n == 0 {
		c.buf = c.buf[:0]
	} else {
		c.buf = c.buf[:c.ends[n-1]]
	}
}

// Event returns the i-th event's JSON object.
func (c *CAPIEvents) Event(i int) []byte {
	start := 0
	if i > 0 {
		start = c.ends[i-1]
	}
	return c.buf[start:c.ends[i]]
}

// DefaultCAPIBatchSize is the most events one Conversions API request body
// holds unless configured otherwise, defined once for every front.
const DefaultCAPIBatchSize = 500

// AppendEnvelopes appends a JSON array of request bodies
// {"conversion_events": {"capi_connection_id", "events"}}, at most batchSize
// events each, holding the events of parts in order.
func AppendEnvelopes(dst []byte, connectionID string, batchSize int, parts ...*CAPIEvents) []byte {
	if batchSize <= 0 {
		batchSize = DefaultCAPIBatchSize
	}
	dst = append(dst, '[')
	n := 0
	for _, p := range parts {
		for i := range p.Len() {
			if n%batchSize == 0 {
				if n > 0 {
					dst = append(dst, "]}},"...)
				}
				dst = AppendEnvelopeHead(dst, connectionID)
			} else {
				dst = append(dst, ',')
			}
			dst = append(dst, p.Event(i)...)
			n++
		}
	}
	if n > 0 {
		dst = append(dst, "]}}"...)
	}
	return append(dst, ']')
}

// AppendEnvelopeHead opens an envelope up to its events array; the caller
// appends events and closes it with "]}}".
func AppendEnvelopeHead(dst []byte, connectionID string) []byte {
	dst = append(dst, `{"conversion_events":{"capi_connection_id":`...)
	dst = jsonscan.AppendString(dst, connectionID)
	return append(dst, `,"events":[`...)
}

// capiUser is what identifies the visitor of one event.
type capiUser struct {
	email, phone, ip, device string
}

func (u *capiUser) empty() bool {
	return u.email == "" && u.phone == "" && u.ip == "" && u.device == ""
}

// capiSource is what every CAPI event of one RudderStack event shares
// besides the visitor.
type capiSource struct {
	when time.Time
	url  string // context.page.url when it is an http(s) URL
	app  bool   // channel "mobile" or a context.device
}

// CAPIEvents adds the Conversions API events of the last ok outcome to into,
// one per conversion or view call, and returns how many; when it adds none
// it returns the reason.
func (t *Transformer) CAPIEvents(into *CAPIEvents) (int, string) {
	o := &t.o
	if o.Status != StatusOK {
		return 0, ""
	}
	ev := o.Event
	user := capiUserOf(ev)
	if user.empty() {
		return 0, capiNoIdentifier
	}
	src := capiSource{when: t.eventTime(ev), app: lastAt(ev, "channel").Str == "mobile" || present(lastAt(ev, "context.device"))}
	if u := t.top.get(tPageURL); u.Type == gjson.String && (strings.HasPrefix(u.Str, "http://") || strings.HasPrefix(u.Str, "https://")) {
		src.url = u.Str
	}
	mark, n := into.Len(), 0
	for i := range o.Calls {
		c := &o.Calls[i]
		if c.Command == CmdAlias {
			continue
		}
		params := jsonscan.Str(o.Params(i))
		id := capiEventID(gjson.Get(params, "event_id"))
		if id == "" {
			into.truncate(mark)
			return 0, capiNoEventID
		}
		t.scratch = appendCAPIEvent(t.scratch[:0], c.Command, id, &src, &user, params)
		into.add(t.scratch)
		n++
	}
	return n, ""
}

func appendCAPIEvent(dst []byte, cmd Command, id string, src *capiSource, user *capiUser, params string) []byte {
	dst = append(dst, `{"event_name":"`...)
	dst = append(dst, cmd.CAPIEventName()...)
	dst = append(dst, `","event_id":`...)
	dst = jsonscan.AppendString(dst, id)
	dst = append(dst, `,"event_time":"`...)
	dst = src.when.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z")
	dst = append(dst, `","user_data":{`...)
	dst = appendUserData(dst, user)
	dst = append(dst, '}')
	dst = appendEventDetails(dst, params)
	if src.url != "" {
		dst = append(dst, `,"event_source_url":`...)
		dst = jsonscan.AppendString(dst, src.url)
	}
	dst = append(dst, `,"action_source":"`...)
	if src.app {
		dst = append(dst, "APP"...)
	} else {
		dst = append(dst, "WEB"...)
	}
	return append(dst, `"}`...)
}

func appendUserData(dst []byte, u *capiUser) []byte {
	start := len(dst)
	field := func(key string) {
		if len(dst) > start {
			dst = append(dst, ',')
		}
		dst = append(dst, key...)
	}
	if u.email != "" {
		field(`"hashed_emails":[`)
		dst = jsonscan.AppendString(dst, u.email)
		dst = append(dst, ']')
	}
	if u.phone != "" {
		field(`"hashed_phone_number":`)
		dst = jsonscan.AppendString(dst, u.phone)
	}
	if u.ip != "" {
		field(`"ip_address":`)
		dst = jsonscan.AppendString(dst, u.ip)
	}
	if u.device != "" {
		field(`"device_id":`)
		dst = jsonscan.AppendString(dst, u.device)
	}
	return dst
}

// appendEventDetails appends event_details when the call has any of amount,
// currency or content_name.
func appendEventDetails(dst []byte, params string) []byte {
	start := len(dst)
	dst = append(dst, `,"event_details":{`...)
	open := len(dst)
	sep := func() {
		if len(dst) > open {
			dst = append(dst, ',')
		}
	}
	if amount, ok := capiAmount(gjson.Get(params, "value")); ok {
		sep()
		dst = append(dst, `"amount":`...)
		dst = append(dst, amount...)
	}
	if v := gjson.Get(params, "currency"); present(v) {
		sep()
		dst = append(dst, `"currency":`...)
		dst = append(dst, v.Raw...)
	}
	if v := gjson.Get(params, "product_name"); present(v) {
		sep()
		dst = append(dst, `"content_name":`...)
		dst = append(dst, v.Raw...)
	}
	if len(dst) == open {
		return dst[:start]
	}
	return append(dst, '}')
}

// capiAmount renders a value as a JSON number: a number as written, a
// numeric string converted; anything else is no amount.
func capiAmount(v gjson.Result) (string, bool) {
	switch v.Type {
	case gjson.Number:
		return v.Raw, true
	case gjson.String:
		text := trim(v.Str)
		if !isDecimal(text) {
			return "", false
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(f, 0) {
			return "", false
		}
		return strconv.FormatFloat(f, 'f', -1, 64), true
	}
	return "", false
}

// isDecimal reports whether s is a decimal number as JavaScript's Number
// reads one: a sign, digits with an optional point (".5" and "5." count),
// an optional exponent. Go's own syntax beyond it ("1_000", "0x1p4",
// "Inf", "NaN") is not a number here.
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < len(s) && s[i]-'0' < 10; i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && s[i]-'0' < 10; i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for ; i < len(s) && s[i]-'0' < 10; i++ {
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}

// capiEventID is the call's event_id as text, "" when there is none.
func capiEventID(v gjson.Result) string {
	switch v.Type {
	case gjson.String:
		return v.Str
	case gjson.Number:
		return v.Raw
	}
	return ""
}

// capiUserOf collects the hashed email and phone, the IP without its port
// and the device id (docs/BEHAVIOUR.md §8).
func capiUserOf(ev gjson.Result) capiUser {
	var u capiUser
	for _, v := range []gjson.Result{lastAt(ev, "context.traits.email"), lastAt(ev, "traits.email"), lastAt(ev, "properties.email")} {
		if v.Type == gjson.String {
			if h, ok := idhash.Email(v.Str); ok {
				u.email = h
				break
			}
		}
	}
	for _, v := range []gjson.Result{lastAt(ev, "context.traits.phone"), lastAt(ev, "traits.phone")} {
		if v.Type == gjson.String || v.Type == gjson.Number {
			text := v.Str
			if v.Type == gjson.Number {
				text = v.Raw
			}
			if h, ok := idhash.Phone(text); ok {
				u.phone = h
				break
			}
		}
	}
	for _, v := range []gjson.Result{lastAt(ev, "context.ip"), lastAt(ev, "request_ip")} {
		if ip := stripPort(trim(v.Str)); v.Type == gjson.String && ip != "" {
			u.ip = ip
			break
		}
	}
	for _, v := range []gjson.Result{lastAt(ev, "context.device.advertisingId"), lastAt(ev, "context.device.id")} {
		if isNonEmptyString(v) {
			u.device = v.Str
			break
		}
	}
	return u
}

// stripPort removes a port from "1.2.3.4:80" and "[::1]:80"; a bare IPv6
// address keeps its colons.
func stripPort(ip string) string {
	if strings.HasPrefix(ip, "[") {
		if end := strings.IndexByte(ip, ']'); end > 0 {
			return ip[1:end]
		}
		return ip
	}
	if strings.Count(ip, ":") == 1 {
		return ip[:strings.IndexByte(ip, ':')]
	}
	return ip
}

// eventTime is the event's timestamp, else originalTimestamp, else
// receivedAt; absent or unparseable means now, and a future time is clamped
// to now.
func (t *Transformer) eventTime(ev gjson.Result) time.Time {
	now := t.now()
	for _, key := range [3]string{"timestamp", "originalTimestamp", "receivedAt"} {
		v := lastAt(ev, key)
		if !present(v) {
			continue
		}
		when, ok := parseTime(v)
		if !ok || when.After(now) {
			return now
		}
		return when
	}
	return now
}

func (t *Transformer) now() time.Time {
	if t.opts.Now != nil {
		return t.opts.Now()
	}
	return time.Now()
}

// timeLayouts are the string forms of time the engine accepts.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02"}

// parseTime reads an ISO 8601 string (a zone-less one is UTC) or a number of
// milliseconds since the Unix epoch, as JavaScript's Date does.
func parseTime(v gjson.Result) (time.Time, bool) {
	switch v.Type {
	case gjson.String:
		s := trim(v.Str)
		for _, layout := range timeLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return t, true
			}
		}
	case gjson.Number:
		ms, err := strconv.ParseFloat(v.Raw, 64)
		if err == nil && !math.IsInf(ms, 0) && math.Abs(ms) <= 8.64e15 {
			return time.UnixMilli(int64(ms)).UTC(), true
		}
	}
	return time.Time{}, false
}
