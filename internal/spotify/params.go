package spotify

import (
	"spotifypixel/internal/jsonscan"
	"strconv"

	"github.com/tidwall/gjson"
)

// Beacon slots: the params that the image pixel carries besides key, a and alias.
const (
	beaconValue = iota
	beaconCurrency
	beaconOrderID
	beaconDiscountCode
	beaconType
	numBeacon
)

// beaconNames are the beacon parameters copied from a call's params, in the
// order BEHAVIOUR.md §5 gives (uid and alias follow them).
var beaconNames = [numBeacon]string{"value", "currency", "order_id", "discount_code", "type"}

// beaconSlot returns the beacon slot of a view param, or -1.
func beaconSlot(key string) int {
	switch key {
	case "value":
		return beaconValue
	case "currency":
		return beaconCurrency
	case "order_id":
		return beaconOrderID
	case "discount_code":
		return beaconDiscountCode
	case "type":
		return beaconType
	}
	return -1
}

// param is one row of a docs/BEHAVIOUR.md §4.1 parameter map: an output key and its sources,
// the first present one winning.
type param struct {
	key         string // JSON-quoted output key followed by a colon
	src         []srcKey
	beacon      int8 // beacon slot, or -1
	lineItems   bool // the special line_items parameter
	productName bool // product_name, which the Conversions API reads
}

func p(key string, src ...srcKey) param {
	b := int8(-1)
	for i, n := range beaconNames {
		if n == key {
			b = int8(i)
		}
	}
	return param{key: strconv.Quote(key) + ":", src: src, beacon: b, lineItems: key == "line_items", productName: key == "product_name"}
}

var (
	simpleMap   = []param{p("value", sPrice), p("currency", sCurrency), p("type", sType), p("category", sCategory)}
	productMap  = []param{p("value", sPrice), p("currency", sCurrency), p("product_id", sProductID), p("product_name", sName), p("product_type", sProductType), p("product_vendor", sBrand)}
	addMap      = append(productMap[:len(productMap):len(productMap)], p("quantity", sQuantity), p("variant_id", sVariantID), p("variant_name", sVariantName))
	checkoutMap = []param{p("value", sValue, sPrice), p("currency", sCurrency), p("discount_code", sDiscountCode), p("quantity", sQuantity), p("variant_id", sVariantID), p("line_items", sLineItems)}
	purchaseMap = []param{p("value", sTotal, sRevenue), p("currency", sCurrency), p("discount_code", sDiscountCode), p("line_items", sLineItems), p("order_id", sOrderID), p("is_new_customer", sIsNewCustomer), p("quantity", sQuantity)}
	lineItemMap = []param{p("product_id", sProductID), p("product_name", sName), p("product_type", sProductType), p("product_vendor", sBrand), p("variant_id", sVariantID), p("variant_name", sVariantName), p("value", sPrice), p("quantity", sQuantity)}
)

// appendMap appends the map's members (without braces) taking each from elem
// when present there, else from props; it records beacon values in call.
func (t *Transformer) appendMap(dst []byte, m []param, props, elem *fields, call *Call) []byte {
	for i := range m {
		pr := &m[i]
		if pr.lineItems {
			dst = t.appendLineItems(dst, pr.key)
			continue
		}
		raw, ok := "", false
		if elem != nil {
			raw, ok = elem.first(pr.src)
		}
		if !ok {
			if raw, ok = props.first(pr.src); !ok {
				continue
			}
		}
		raw = canonical(raw) // an object or array copied whole repeats no key
		dst = appendMember(dst, pr.key, raw)
		if call == nil {
			continue
		}
		if pr.beacon >= 0 {
			call.beacon[pr.beacon] = raw
		}
		if pr.productName {
			call.productName = raw
		}
	}
	return dst
}

// appendMember appends `"key":raw`, preceded by a comma unless it opens the object.
func appendMember(dst []byte, key, raw string) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, key...)
	return append(dst, raw...)
}

// appendLineItems appends the line_items member of checkout and purchase
// (docs/BEHAVIOUR.md §4.2): properties.line_items when it is an array, else one item per
// product, else one item built from properties.
func (t *Transformer) appendLineItems(dst []byte, key string) []byte {
	props := &t.props
	if li := props.get(sLineItems); li.IsArray() {
		return appendMember(dst, key, canonical(li.Raw))
	}
	dst = appendMember(dst, key, "[")
	if products := props.get(sProducts); products.IsArray() {
		first := true
		t.eachProduct(products.Raw, func() {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, '{')
			dst = t.appendMap(dst, lineItemMap, props, &t.elem, nil)
			dst = append(dst, '}')
		})
	} else {
		dst = append(dst, '{')
		dst = t.appendMap(dst, lineItemMap, props, nil, nil)
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// eachProduct loads each element of the products array (checked JSON) into
// t.elem, an element that is not an object loading nothing, and calls fn.
func (t *Transformer) eachProduct(products string, fn func()) {
	jsonscan.Elements(products, 0, func(at int) int {
		end := t.elem.loadAt(products, at)
		fn()
		return end
	})
}

// eventIDOf returns the event_id source: properties.event_id, else messageId,
// when it is a non-empty string or a number.
func eventIDOf(propsID, messageID gjson.Result) gjson.Result {
	for _, v := range [2]gjson.Result{propsID, messageID} {
		if isNonEmptyString(v) || v.Type == gjson.Number {
			return v
		}
	}
	return gjson.Result{}
}

// appendEventID appends the event_id member as a JSON string, suffixed with
// -n for the n-th call of a fan-out (n < 0: no suffix), and records in c
// where its value stands.
func appendEventID(dst []byte, id gjson.Result, n int, c *Call) []byte {
	if !id.Exists() {
		return dst
	}
	dst = appendMember(dst, `"event_id":`, "")
	c.idStart = len(dst)
	if id.Type == gjson.String {
		dst = append(dst, id.Raw[:len(id.Raw)-1]...)
	} else {
		dst = append(dst, '"')
		dst = append(dst, id.Raw...)
	}
	if n >= 0 {
		dst = append(dst, '-')
		dst = strconv.AppendInt(dst, int64(n), 10)
	}
	dst = append(dst, '"')
	c.idEnd = len(dst)
	return dst
}
