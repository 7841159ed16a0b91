package spotify

import "github.com/tidwall/gjson"

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
	numTop
)

// topFields holds the members of the event (and of its context) that the
// engine reads. One pass over the event fills it: context and properties
// are read in place while the event is walked, not skipped and walked again
// (the first occurrence of a duplicate key wins, as with gjson.Get). A bit
// per slot says what this event set, so that starting the next event clears
// one word, not a kilobyte of results.
type topFields struct {
	v   [numTop]gjson.Result
	set uint32
}

// get returns the member k, or an empty Result when the event has none.
func (f *topFields) get(k topKey) gjson.Result {
	if f.set&(1<<k) == 0 {
		return gjson.Result{}
	}
	return f.v[k]
}

func (f *topFields) has(k topKey) bool { return f.set&(1<<k) != 0 }

// put sets member k from its raw text unless the event already had it.
func (f *topFields) put(k topKey, raw string) {
	if f.set&(1<<k) == 0 {
		f.v[k] = value(raw)
		f.set |= 1 << k
	}
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
	}
	return 0, false
}

// scan reads the event object that starts at s[i] into f and props, and
// returns the index just past it; it may nest limit levels (len(s) when it
// is malformed or deeper).
func (f *topFields) scan(s string, i, limit int, props *fields) int {
	f.set = 0
	props.set = 0
	return members(s, i, limit, func(key, _ string, vs int) int {
		k, ok := eventKey(key)
		if !ok || f.has(k) {
			return skipValue(s, vs, limit-1)
		}
		var end int
		switch k {
		case tContext:
			end = f.scanContext(s, vs, limit-1)
		case tProperties:
			end = props.scan(s, vs, limit-1)
		default:
			end = skipValue(s, vs, limit-1)
		}
		f.put(k, s[vs:end])
		return end
	})
}

// scanContext reads the members of context the engine needs, and within
// them the few members of page, traits and consentManagement it reads.
func (f *topFields) scanContext(s string, i, limit int) int {
	return members(s, i, limit, func(key, _ string, vs int) int {
		var k topKey
		switch key {
		case "page":
			k = tPage
		case "traits":
			k = tTraits
		case "consentManagement":
			k = tConsent
		default:
			return skipValue(s, vs, limit-1)
		}
		if f.has(k) {
			return skipValue(s, vs, limit-1)
		}
		end := members(s, vs, limit-1, func(key, _ string, ws int) int {
			end := skipValue(s, ws, limit-2)
			if sub, ok := contextMember(k, key); ok {
				f.put(sub, s[ws:end])
			}
			return end
		})
		f.put(k, s[vs:end])
		return end
	})
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
	}
	return 0, false
}

// fields holds the properties (or a product element) that the parameter maps
// read, collected in one pass over the object; a bit per slot says which
// ones this object set.
type fields struct {
	v   [numSrc]gjson.Result
	set uint32
}

// get returns the value of k, or an empty Result when the object has none.
func (f *fields) get(k srcKey) gjson.Result {
	if f.set&(1<<k) == 0 {
		return gjson.Result{}
	}
	return f.v[k]
}

// load fills f from obj; a value that is not an object contributes nothing.
func (f *fields) load(obj gjson.Result) {
	f.set = 0
	if obj.IsObject() {
		f.scan(obj.Raw, 0, MaxDepth)
	}
}

// scan reads the members of the object at s[i] that the parameter maps use
// and returns the index just past the value (of any type), which may nest
// limit levels.
func (f *fields) scan(s string, i, limit int) int {
	return members(s, i, limit, func(key, _ string, vs int) int {
		end := skipValue(s, vs, limit-1)
		if k, ok := srcOf(key); ok && f.set&(1<<k) == 0 {
			f.v[k] = value(s[vs:end])
			f.set |= 1 << k
		}
		return end
	})
}

// first returns the first present value among srcs.
func (f *fields) first(srcs []srcKey) (gjson.Result, bool) {
	for _, s := range srcs {
		if v := f.get(s); present(v) {
			return v, true
		}
	}
	return gjson.Result{}, false
}
