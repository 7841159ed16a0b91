package spotify

import (
	"spotifypixel/internal/jsonscan"

	"github.com/tidwall/gjson"
)

// topKey names a member of the event, or of its context, that the engine reads.
type topKey uint8

const (
	tType topKey = iota
	tEvent
	tProperties
	tMessageID
	tUserID
	tContext
	tIntegrations
	tPage            // context.page
	tTraits          // context.traits
	tConsent         // context.consentManagement
	tPageURL         // context.page.url
	tPageReferrer    // context.page.referrer
	tTraitsUserID    // context.traits.userId
	tTraitsID        // context.traits.id
	tDeniedConsents  // context.consentManagement.deniedConsentIds
	tConsentProvider // context.consentManagement.provider
	tConsentStrategy // context.consentManagement.resolutionStrategy
	tSessionID       // context.sessionId
	// Read by the Conversions API only (docs/BEHAVIOUR.md §8).
	tTopTraits         // traits
	tChannel           // channel
	tRequestIP         // request_ip
	tTimestamp         // timestamp
	tOriginalTimestamp // originalTimestamp
	tReceivedAt        // receivedAt
	tIP                // context.ip
	tDevice            // context.device
	tTraitsEmail       // context.traits.email
	tTraitsPhone       // context.traits.phone
	numTop
)

// children are the slots filled from within a member: when the member
// occurs again, the later occurrence replaces it whole, slots included.
var children = [numTop]uint32{
	tContext: 1<<tPage | 1<<tTraits | 1<<tConsent | 1<<tSessionID | 1<<tPageURL | 1<<tPageReferrer |
		1<<tTraitsUserID | 1<<tTraitsID | 1<<tDeniedConsents | 1<<tConsentProvider | 1<<tConsentStrategy |
		1<<tIP | 1<<tDevice | 1<<tTraitsEmail | 1<<tTraitsPhone,
	tPage:    1<<tPageURL | 1<<tPageReferrer,
	tTraits:  1<<tTraitsUserID | 1<<tTraitsID | 1<<tTraitsEmail | 1<<tTraitsPhone,
	tConsent: 1<<tDeniedConsents | 1<<tConsentProvider | 1<<tConsentStrategy,
}

// topFields holds the members of the event (and of its context) that the
// engine reads. One pass over the event fills it: context and properties
// are read in place while the event is walked, not skipped and walked again
// (a repeated key's last occurrence wins, as with JSON.parse: it overwrites
// the slot, and clears the slots its earlier occurrence filled). Slots
// hold raw text, made a gjson.Result only when read; a bit per slot says
// what this event set, so that starting the next event clears one word.
type topFields struct {
	raw    [numTop]string
	set    uint32
	looked uint32 // the members lookInside has read for this event
}

// get returns the member k, or an empty Result when the event has none.
func (f *topFields) get(k topKey) gjson.Result {
	if f.set&(1<<k) == 0 {
		return gjson.Result{}
	}
	return jsonscan.Value(f.raw[k])
}

func (f *topFields) has(k topKey) bool { return f.set&(1<<k) != 0 }

// rawOf returns the raw text of member k, "" when the event has none.
func (f *topFields) rawOf(k topKey) string {
	if !f.has(k) {
		return ""
	}
	return f.raw[k]
}

// idAt is idText for member k, read from its raw text: a number is taken as
// written without being parsed (a session id is usually a number).
func (f *topFields) idAt(k topKey) string {
	if !f.has(k) {
		return ""
	}
	switch raw := f.raw[k]; {
	case raw == "":
	case raw[0] == '"':
		if v := jsonscan.Value(raw); v.Str != "" {
			return v.Str
		}
	case raw[0] == '-' || raw[0]-'0' < 10:
		if !isZeroNumber(raw) {
			return raw
		}
	}
	return ""
}

// put sets member k from its raw text; a later occurrence of a key
// overwrites an earlier one.
func (f *topFields) put(k topKey, raw string) {
	f.raw[k] = raw
	f.set |= 1 << k
}

// replace forgets member k and every slot read from within it, before a
// repeated key's later occurrence is read.
func (f *topFields) replace(k topKey) {
	f.set &^= 1<<k | children[k]
	f.looked &^= 1<<k | children[k]
}

// eventKeys maps the event's members the engine reads to their slots.
func eventKey(key string) (topKey, bool) {
	switch key {
	case "type":
		return tType, true
	case "event":
		return tEvent, true
	case "messageId":
		return tMessageID, true
	case "userId":
		return tUserID, true
	case "integrations":
		return tIntegrations, true
	case "context":
		return tContext, true
	case "properties":
		return tProperties, true
	case "traits":
		return tTopTraits, true
	case "channel":
		return tChannel, true
	case "request_ip":
		return tRequestIP, true
	case "timestamp":
		return tTimestamp, true
	case "originalTimestamp":
		return tOriginalTimestamp, true
	case "receivedAt":
		return tReceivedAt, true
	}
	return 0, false
}

// scan reads the event object that starts at s[i] into f and props, and
// returns the index just past it; it may nest limit levels (len(s) when it
// is malformed or deeper).
func (f *topFields) scan(s string, i, limit int, props *fields) int {
	f.set, f.looked = 0, 0
	props.set, props.record, props.list = 0, true, props.list[:0]
	return jsonscan.Members(s, i, limit, func(key, _ string, vs int) int {
		k, ok := eventKey(key)
		if !ok {
			return jsonscan.SkipValue(s, vs, limit-1)
		}
		if f.has(k) {
			f.replace(k)
		}
		var end int
		switch k {
		case tContext:
			end = f.scanContext(s, vs, limit-1)
		case tProperties:
			if props.set != 0 || len(props.list) > 0 {
				props.set, props.list = 0, props.list[:0] // properties given again
			}
			end = props.scan(s, vs, limit-1)
		default:
			end = jsonscan.SkipValue(s, vs, limit-1)
		}
		f.put(k, s[vs:end])
		return end
	})
}

// scanContext reads the members of context the engine needs, and within
// consentManagement and page the members that the consent check and the
// view read. context.traits is read further only by the events that need it
// (lookInside).
func (f *topFields) scanContext(s string, i, limit int) int {
	return jsonscan.Members(s, i, limit, func(key, _ string, vs int) int {
		var k topKey
		switch key {
		case "page":
			k = tPage
		case "traits":
			k = tTraits
		case "consentManagement":
			k = tConsent
		case "sessionId":
			k = tSessionID
		case "ip":
			k = tIP
		case "device":
			k = tDevice
		default:
			return jsonscan.SkipValue(s, vs, limit-1)
		}
		if f.has(k) {
			f.replace(k)
		}
		var end int
		if k == tTraits || k == tSessionID || k == tIP || k == tDevice { // traits: read further only when needed
			end = jsonscan.SkipValue(s, vs, limit-1)
		} else {
			end = f.scanMembers(k, s, vs, limit-1)
		}
		f.put(k, s[vs:end])
		return end
	})
}

// scanMembers walks the object at s[i] (checking it, nesting at most limit
// levels), putting the members of parent that the engine reads into their
// slots, and returns the index just past it.
func (f *topFields) scanMembers(parent topKey, s string, i, limit int) int {
	return jsonscan.Members(s, i, limit, func(key, _ string, vs int) int {
		end := jsonscan.SkipValue(s, vs, limit-1)
		if sub, ok := contextMember(parent, key); ok {
			f.put(sub, s[vs:end])
		}
		return end
	})
}

// lookInside reads the members of context.page or context.traits (parent)
// that the engine uses, once the event turns out to need them, and only
// once (the alias and the Conversions API both read context.traits).
func (f *topFields) lookInside(parent topKey) {
	if f.looked&(1<<parent) != 0 {
		return
	}
	f.looked |= 1 << parent
	if raw := f.raw[parent]; f.has(parent) && raw[0] == '{' {
		f.scanMembers(parent, raw, 0, jsonscan.NoLimit)
	}
}

// contextMember maps a member of context.page, .traits or
// .consentManagement to its slot.
func contextMember(parent topKey, key string) (topKey, bool) {
	switch {
	case parent == tPage && key == "url":
		return tPageURL, true
	case parent == tPage && key == "referrer":
		return tPageReferrer, true
	case parent == tTraits && key == "userId":
		return tTraitsUserID, true
	case parent == tTraits && key == "id":
		return tTraitsID, true
	case parent == tTraits && key == "email":
		return tTraitsEmail, true
	case parent == tTraits && key == "phone":
		return tTraitsPhone, true
	case parent == tConsent && key == "deniedConsentIds":
		return tDeniedConsents, true
	case parent == tConsent && key == "provider":
		return tConsentProvider, true
	case parent == tConsent && key == "resolutionStrategy":
		return tConsentStrategy, true
	}
	return 0, false
}

// srcKey names a property the parameter maps read.
type srcKey uint8

const (
	sPrice srcKey = iota
	sCurrency
	sType
	sCategory
	sProductID
	sName
	sProductType
	sBrand
	sQuantity
	sVariantID
	sVariantName
	sValue
	sDiscountCode
	sLineItems
	sTotal
	sRevenue
	sOrderID
	sIsNewCustomer
	sEventID
	sProducts
	sEmail // read by the Conversions API only
	numSrc
)

func srcOf(k string) (srcKey, bool) {
	switch k {
	case "price":
		return sPrice, true
	case "currency":
		return sCurrency, true
	case "type":
		return sType, true
	case "category":
		return sCategory, true
	case "product_id":
		return sProductID, true
	case "name":
		return sName, true
	case "product_type":
		return sProductType, true
	case "brand":
		return sBrand, true
	case "quantity":
		return sQuantity, true
	case "variant_id":
		return sVariantID, true
	case "variant_name":
		return sVariantName, true
	case "value":
		return sValue, true
	case "discount_code":
		return sDiscountCode, true
	case "line_items":
		return sLineItems, true
	case "total":
		return sTotal, true
	case "revenue":
		return sRevenue, true
	case "order_id":
		return sOrderID, true
	case "is_new_customer":
		return sIsNewCustomer, true
	case "event_id":
		return sEventID, true
	case "products":
		return sProducts, true
	case "email":
		return sEmail, true
	}
	return 0, false
}

// fields holds the properties (or a product element) that the parameter maps
// read, collected in one pass over the object: raw text, made a gjson.Result
// when read, and a bit per slot saying which ones this object set.
type fields struct {
	raw    [numSrc]string
	set    uint32
	record bool     // keep every member in list (properties: a page event's view reads them all)
	list   []member // the object's members in order, when record is set
}

// forget drops the member texts, keeping the list's room.
func (f *fields) forget() {
	f.raw, f.set = [numSrc]string{}, 0
	clear(f.list[:cap(f.list)])
	f.list = f.list[:0]
}

// get returns the value of k, or an empty Result when the object has none.
func (f *fields) get(k srcKey) gjson.Result {
	if f.set&(1<<k) == 0 {
		return gjson.Result{}
	}
	return jsonscan.Value(f.raw[k])
}

// scan reads the members of the object at s[i] that the parameter maps use
// and returns the index just past the value (of any type), which may nest
// limit levels.
func (f *fields) scan(s string, i, limit int) int {
	return jsonscan.Members(s, i, limit, func(key, rawKey string, vs int) int {
		end := jsonscan.SkipValue(s, vs, limit-1)
		if f.record {
			f.list = append(f.list, member{key: key, rawKey: rawKey, raw: s[vs:end]})
		}
		if k, ok := srcOf(key); ok { // a repeated key: the last one wins
			f.raw[k] = s[vs:end]
			f.set |= 1 << k
		}
		return end
	})
}

// rawOf returns the raw text of k, "" when the object has none.
func (f *fields) rawOf(k srcKey) string {
	if f.set&(1<<k) == 0 {
		return ""
	}
	return f.raw[k]
}

// first returns the raw text of the first present value among srcs.
func (f *fields) first(srcs []srcKey) (string, bool) {
	if k, ok := f.firstKey(srcs); ok {
		return f.raw[k], true
	}
	return "", false
}

// firstKey returns which of srcs first holds a present value.
func (f *fields) firstKey(srcs []srcKey) (srcKey, bool) {
	for _, k := range srcs {
		if f.set&(1<<k) != 0 && presentRaw(f.raw[k]) {
			return k, true
		}
	}
	return 0, false
}

// presentRaw is present for a raw JSON value, without parsing it.
func presentRaw(raw string) bool { return raw != "" && raw != "null" && raw != `""` }

// loadAt fills f from the value at s[i] (an object contributes its members)
// and returns the index just past it.
func (f *fields) loadAt(s string, i int) int {
	f.set = 0
	return f.scan(s, i, jsonscan.NoLimit)
}
