package spotify

import "github.com/tidwall/gjson"

// topFields holds the event's members that the engine reads. One pass over
// the event fills it: context and properties are read in place while the
// event is walked, not skipped and walked again (the first occurrence of a
// duplicate key wins, as with gjson.Get).
type topFields struct {
	typ, event, properties, messageID, userID, context, integrations gjson.Result
	page, traits, consentMgt                                         gjson.Result // members of context
}

// contextFields returns context.page, context.traits and context.consentManagement.
func (f *topFields) contextFields() (page, traits, consent gjson.Result) {
	return f.page, f.traits, f.consentMgt
}

// scan reads the event object that starts at s[i] into f and props, and
// returns the index just past it; it may nest limit levels (len(s) when it
// is malformed or deeper).
func (f *topFields) scan(s string, i, limit int, props *fields) int {
	*f = topFields{}
	*props = fields{}
	return members(s, i, limit, func(key, _ string, vs int) int {
		var dst *gjson.Result
		switch key {
		case "type":
			dst = &f.typ
		case "event":
			dst = &f.event
		case "messageId":
			dst = &f.messageID
		case "userId":
			dst = &f.userID
		case "integrations":
			dst = &f.integrations
		case "context":
			if f.context.Exists() {
				return skipValue(s, vs, limit-1)
			}
			end := f.scanContext(s, vs, limit-1)
			f.context = value(s[vs:end])
			return end
		case "properties":
			if f.properties.Exists() {
				return skipValue(s, vs, limit-1)
			}
			end := props.scan(s, vs, limit-1)
			f.properties = value(s[vs:end])
			return end
		default:
			return skipValue(s, vs, limit-1)
		}
		end := skipValue(s, vs, limit-1)
		if !dst.Exists() {
			*dst = value(s[vs:end])
		}
		return end
	})
}

// scanContext reads the members of context the engine needs.
func (f *topFields) scanContext(s string, i, limit int) int {
	return members(s, i, limit, func(key, _ string, vs int) int {
		end := skipValue(s, vs, limit-1)
		var dst *gjson.Result
		switch key {
		case "page":
			dst = &f.page
		case "traits":
			dst = &f.traits
		case "consentManagement":
			dst = &f.consentMgt
		default:
			return end
		}
		if !dst.Exists() {
			*dst = value(s[vs:end])
		}
		return end
	})
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
// read, collected in one pass over the object.
type fields [numSrc]gjson.Result

// load fills f from obj; a value that is not an object contributes nothing.
func (f *fields) load(obj gjson.Result) {
	*f = fields{}
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
		if k, ok := srcOf(key); ok && !f[k].Exists() {
			f[k] = value(s[vs:end])
		}
		return end
	})
}

// first returns the first present value among srcs.
func (f *fields) first(srcs []srcKey) (gjson.Result, bool) {
	for _, s := range srcs {
		if v := f[s]; present(v) {
			return v, true
		}
	}
	return gjson.Result{}, false
}
