package capi

import (
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/idhash"
	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/jstext"
)

// Reasons an ok event is not sent to the Conversions API, shown in its
// result's capiSkipped.
const (
	ReasonNoIdentifier = "no identifier for the Conversions API (email, phone, IP address or device id)"
	ReasonNoEventID    = "no event_id (neither properties.event_id nor messageId) to de-duplicate with the pixel"
)

// Sources are the fields of an event that identify its visitor and date it,
// each the raw JSON value the engine's walk found ("" when absent), so that
// the rules below read them without parsing the event again. Within each
// list the first usable value wins (docs/BEHAVIOUR.md §8).
type Sources struct {
	Emails  [3]string // context.traits.email, traits.email, properties.email
	Phones  [2]string // context.traits.phone, traits.phone
	IPs     [2]string // context.ip, request_ip
	Device  string    // context.device: its advertisingId, else its id
	Channel string    // channel: "mobile" makes the action source APP
	Times   [3]string // timestamp, originalTimestamp, receivedAt
	PageURL string    // context.page.url
}

// Visitor is what every Conversions API event of one RudderStack event
// shares: who (hashed contact data, IP, device) and when, where and how.
type Visitor struct {
	email, phone, ip, device string
	when                     time.Time
	url                      string // an http(s) page URL, else ""
	app                      bool
}

// Read applies docs/BEHAVIOUR.md §8 to src; now dates an event without a
// usable time and clamps one in the future. It reports false, with the
// reason, when nothing identifies the visitor.
func (v *Visitor) Read(src *Sources, now time.Time) (bool, string) {
	*v = Visitor{}
	for _, raw := range src.Emails {
		if s, ok := stringOf(raw); ok {
			if h, ok := idhash.Email(s); ok {
				v.email = h
				break
			}
		}
	}
	for _, raw := range src.Phones {
		text, ok := stringOf(raw)
		if !ok && isNumber(raw) {
			text, ok = raw, true // a phone number may be sent as a number
		}
		if !ok {
			continue
		}
		if h, hashed := idhash.Phone(text); hashed {
			v.phone = h
			break
		}
	}
	for _, raw := range src.IPs {
		if s, ok := stringOf(raw); ok {
			if ip := stripPort(jstext.Trim(s)); ip != "" {
				v.ip = ip
				break
			}
		}
	}
	v.device = deviceID(src.Device)
	if v.email == "" && v.phone == "" && v.ip == "" && v.device == "" {
		return false, ReasonNoIdentifier
	}
	ch, _ := stringOf(src.Channel)
	v.app = ch == "mobile" || present(src.Device)
	if u, ok := stringOf(src.PageURL); ok && (strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) {
		v.url = u
	}
	v.when = eventTime(src.Times, now)
	return true, ""
}

// deviceID is context.device's advertisingId, else its id, when a
// non-empty string.
func deviceID(device string) string {
	if device == "" || device[0] != '{' {
		return ""
	}
	obj := gjson.Result{Type: gjson.JSON, Raw: device}
	for _, key := range [2]string{"advertisingId", "id"} {
		if v := jsonscan.LastMember(obj, key); v.Type == gjson.String && v.Str != "" {
			return v.Str
		}
	}
	return ""
}

// Call is what one conversion or view call contributes to its Conversions
// API event: the event name of its command and its parameters' raw JSON
// values ("" when the call has none).
type Call struct {
	Name        string // event_name, from the command table
	EventID     string // the event_id parameter
	Value       string // value: becomes amount
	Currency    string
	ProductName string // product_name: becomes content_name
}

// AppendEvent appends the Conversions API event of call c for visitor v;
// it reports false, appending nothing, when the call has no event_id.
func AppendEvent(dst []byte, c *Call, v *Visitor) ([]byte, bool) {
	id := eventID(c.EventID)
	if id == "" {
		return dst, false
	}
	dst = append(dst, `{"event_name":"`...)
	dst = append(dst, c.Name...)
	dst = append(dst, `","event_id":`...)
	dst = jsonscan.AppendString(dst, id)
	dst = append(dst, `,"event_time":"`...)
	dst = v.when.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z")
	dst = append(dst, `","user_data":{`...)
	dst = appendUserData(dst, v)
	dst = append(dst, '}')
	dst = appendEventDetails(dst, c)
	if v.url != "" {
		dst = append(dst, `,"event_source_url":`...)
		dst = jsonscan.AppendString(dst, v.url)
	}
	dst = append(dst, `,"action_source":"`...)
	if v.app {
		dst = append(dst, "APP"...)
	} else {
		dst = append(dst, "WEB"...)
	}
	return append(dst, `"}`...), true
}

func appendUserData(dst []byte, v *Visitor) []byte {
	start := len(dst)
	field := func(key, val string) {
		if val == "" {
			return
		}
		if len(dst) > start {
			dst = append(dst, ',')
		}
		dst = append(dst, key...)
		dst = jsonscan.AppendString(dst, val)
	}
	if v.email != "" {
		field(`"hashed_emails":[`, v.email)
		dst = append(dst, ']')
	}
	field(`"hashed_phone_number":`, v.phone)
	field(`"ip_address":`, v.ip)
	field(`"device_id":`, v.device)
	return dst
}

// appendEventDetails appends event_details when the call has any of amount,
// currency or content_name.
func appendEventDetails(dst []byte, c *Call) []byte {
	start := len(dst)
	dst = append(dst, `,"event_details":{`...)
	open := len(dst)
	member := func(key, raw string) {
		if len(dst) > open {
			dst = append(dst, ',')
		}
		dst = append(dst, key...)
		dst = append(dst, raw...)
	}
	if amount, ok := amountOf(c.Value); ok {
		member(`"amount":`, amount)
	}
	if present(c.Currency) {
		member(`"currency":`, c.Currency)
	}
	if present(c.ProductName) {
		member(`"content_name":`, c.ProductName)
	}
	if len(dst) == open {
		return dst[:start]
	}
	return append(dst, '}')
}
