package spotify

import "github.com/tidwall/gjson"

// topFields holds the event's top-level members that the engine reads,
// collected in one pass (the first occurrence of a duplicate key wins, as with
// gjson.Get).
type topFields struct {
	typ, event, properties, messageID, userID, context, integrations gjson.Result
}

func (f *topFields) load(ev gjson.Result) {
	*f = topFields{}
	ev.ForEach(func(k, v gjson.Result) bool {
		var dst *gjson.Result
		switch k.Str {
		case "type":
			dst = &f.typ
		case "event":
			dst = &f.event
		case "properties":
			dst = &f.properties
		case "messageId":
			dst = &f.messageID
		case "userId":
			dst = &f.userID
		case "context":
			dst = &f.context
		case "integrations":
			dst = &f.integrations
		default:
			return true
		}
		if !dst.Exists() {
			*dst = v
		}
		return true
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
	if !obj.IsObject() {
		return
	}
	obj.ForEach(func(k, v gjson.Result) bool {
		if s, ok := srcOf(k.Str); ok && !f[s].Exists() {
			f[s] = v
		}
		return true
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
