package spotify

import (
	"strconv"

	"spotifypixel/internal/jsonscan"
)

// The explain trace (docs/BEHAVIOUR.md §5, "explain"): with Options.Explain
// every result carries the decision steps that made it, in order, each
// {step, verdict, detail}. It is written only when asked for: without it
// the engine's path is unchanged but for a test of the option at each step.

// Verdicts of a step: the event went on, or this step decided its outcome
// (then the verdict is the outcome's status).
const (
	verdictPass = "pass"
	verdictInfo = "info"
)

// srcNames are the properties keys of the parameter maps' sources, by
// srcKey, to name where each parameter came from.
var srcNames = [numSrc]string{
	sPrice: "price", sCurrency: "currency", sType: "type", sCategory: "category", sProductID: "product_id",
	sName: "name", sProductType: "product_type", sBrand: "brand", sQuantity: "quantity", sVariantID: "variant_id",
	sVariantName: "variant_name", sValue: "value", sDiscountCode: "discount_code", sLineItems: "line_items",
	sTotal: "total", sRevenue: "revenue", sOrderID: "order_id", sIsNewCustomer: "is_new_customer",
	sEventID: "event_id", sProducts: "products", sEmail: "email",
}

// explain appends one step to the trace.
func (t *Transformer) explain(step, verdict string, detail []byte) {
	if len(t.trace) > 0 {
		t.trace = append(t.trace, ',')
	}
	t.trace = append(t.trace, `{"step":"`...)
	t.trace = append(t.trace, step...)
	t.trace = append(t.trace, `","verdict":"`...)
	t.trace = append(t.trace, verdict...)
	t.trace = append(t.trace, `","detail":`...)
	t.trace = jsonscan.AppendString(t.trace, jsonscan.Str(detail))
	t.trace = append(t.trace, '}')
}

// explainText is explain with a fixed detail.
func (t *Transformer) explainText(step, verdict, detail string) {
	t.explain(step, verdict, append(t.detail[:0], detail...))
}

// explainStop records the step that decided the outcome, with its reason.
func (t *Transformer) explainStop(step Step, o *Outcome) {
	t.explain(step.String(), o.Status.String(), o.reason)
}

// explainQuoted is explain with a detail of before, name quoted, after.
func (t *Transformer) explainQuoted(step, verdict, before, name, after string) {
	t.detail = append(t.detail[:0], before...)
	t.detail = jsonscan.AppendString(t.detail, name)
	t.detail = append(t.detail, after...)
	t.explain(step, verdict, t.detail)
}

// explainRaw is explain with a detail of before and a raw JSON value.
func (t *Transformer) explainRaw(step, verdict, before, raw string) {
	t.detail = append(append(t.detail[:0], before...), raw...)
	t.explain(step, verdict, t.detail)
}

// explainConsent records what the consent step compared: the provider, the
// configured ids it applies and the ids the event denies.
func (t *Transformer) explainConsent(o *Outcome, allowed bool) {
	t.detail = append(t.detail[:0], "provider "...)
	if t.consentProvider == "" {
		t.detail = append(t.detail, "(none)"...)
	} else {
		t.detail = jsonscan.AppendString(t.detail, t.consentProvider)
	}
	if len(t.consentIDs) == 0 {
		t.detail = append(t.detail, "; no consent configured for it"...)
	} else {
		t.detail = append(t.detail, "; required "...)
		t.detail = appendStrings(t.detail, t.consentIDs)
	}
	if t.consentAny {
		t.detail = append(t.detail, " (filtered only when every one is denied)"...)
	}
	t.detail = append(t.detail, "; denied "...)
	t.detail = appendStrings(t.detail, t.denied)
	if allowed {
		t.explain(StepConsent.String(), verdictPass, t.detail)
		return
	}
	t.detail = append(append(t.detail, ": "...), o.reason...)
	t.explain(StepConsent.String(), o.Status.String(), t.detail)
}

// appendStrings appends a JSON array of strings.
func appendStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonscan.AppendString(dst, s)
	}
	return append(dst, ']')
}

// explainCall records a call's parameters and the source key each came
// from; elem is the product element of a fan-out (n its position), else nil.
func (t *Transformer) explainCall(o *Outcome, cmd Command, elem *fields, n int) {
	t.detail = append(t.detail[:0], cmd.String()...)
	if elem != nil {
		t.detail = append(t.detail, " for products["...)
		t.detail = strconv.AppendInt(t.detail, int64(n), 10)
		t.detail = append(t.detail, ']')
	}
	t.detail = append(t.detail, ':')
	none := true
	for i := range cmd.spec().params {
		pr := &cmd.spec().params[i]
		from, k, ok := paramSource(pr, &t.props, elem)
		if !ok {
			continue
		}
		if !none {
			t.detail = append(t.detail, ',')
		}
		none = false
		t.detail = append(t.detail, ' ')
		t.detail = append(t.detail, pr.key[1:len(pr.key)-2]...) // the key without its quotes and colon
		t.detail = append(t.detail, " ← "...)
		t.detail = append(t.detail, from...)
		if k < numSrc {
			t.detail = append(t.detail, srcNames[k]...)
		}
	}
	if none {
		t.detail = append(t.detail, " no parameters"...)
	}
	t.explain("params", verdictInfo, t.detail)
}

// paramSource names where appendMap took a parameter from: the product
// element first, else properties, the first present source key winning.
func paramSource(pr *param, props, elem *fields) (string, srcKey, bool) {
	if pr.lineItems { // docs/BEHAVIOUR.md §4.2: line_items, else one item per product, else properties
		switch {
		case props.get(sLineItems).IsArray():
			return "properties.", sLineItems, true
		case props.get(sProducts).IsArray():
			return "properties.", sProducts, true
		}
		return "properties", numSrc, true
	}
	if elem != nil {
		if k, ok := elem.firstKey(pr.src); ok {
			return "properties.products[].", k, true
		}
	}
	if k, ok := props.firstKey(pr.src); ok {
		return "properties.", k, true
	}
	return "", 0, false
}

// explainBeacons records whether beacons were built for an ok outcome.
func (t *Transformer) explainBeacons(o *Outcome) {
	if !t.opts.Beacons {
		t.explainText("beacon", verdictInfo, "not requested (include=beacons)")
		return
	}
	n := 0
	for i := range o.Calls {
		if o.Calls[i].Command.HasBeacon() {
			n++
		}
	}
	t.detail = append(t.detail[:0], "built for "...)
	t.detail = strconv.AppendInt(t.detail, int64(n), 10)
	t.detail = append(t.detail, " call(s); alias has none"...)
	t.explain("beacon", verdictInfo, t.detail)
}

// explainCAPI records the Conversions API step of an ok outcome: n events
// built, or the reason none was.
func (t *Transformer) explainCAPI(n int, reason string) {
	if reason != "" {
		t.explainText("capi", "skipped", reason)
		return
	}
	t.detail = append(t.detail[:0], "built "...)
	t.detail = strconv.AppendInt(t.detail, int64(n), 10)
	t.detail = append(t.detail, " event(s), one per conversion or view call"...)
	t.explain("capi", verdictInfo, t.detail)
}

// AppendExplain appends the last outcome's decision steps as a JSON array
// (empty without Options.Explain), for fronts that render results in their
// own shape, as the RudderStack routes do.
func (t *Transformer) AppendExplain(dst []byte) []byte {
	dst = append(dst, '[')
	dst = append(dst, t.trace...)
	return append(dst, ']')
}

// appendTrace appends the result's "explain" member.
func (t *Transformer) appendTrace(dst []byte) []byte {
	return t.AppendExplain(append(dst, `,"explain":`...))
}

// explainFilter records the event filter that let the event through.
func (t *Transformer) explainFilter(name string) {
	switch t.cfg.filter {
	case filterDeny:
		t.explainQuoted(StepFilter.String(), verdictPass, "denylist: event ", name, " is not in it")
	case filterAllow:
		t.explainQuoted(StepFilter.String(), verdictPass, "allowlist: event ", name, " is in it")
	default:
		t.explainText(StepFilter.String(), verdictPass, "no event filter configured")
	}
}

// explainMapping records the mapping lookup: the name as normalised and the
// commands it maps to.
func (t *Transformer) explainMapping(name string, custom bool, targets []Command) {
	t.detail = append(t.detail[:0], "event "...)
	t.detail = jsonscan.AppendString(t.detail, name)
	if custom {
		t.detail = append(t.detail, " (trimmed) maps by the configured eventMappings to"...)
	} else {
		t.detail = append(t.detail, " (trimmed) maps by the standard mapping to"...)
	}
	for _, c := range targets {
		t.detail = append(t.detail, ' ')
		t.detail = append(t.detail, c.String()...)
	}
	t.explain(StepMapping.String(), verdictPass, t.detail)
}

// explainAlias records where the alias came from, or why there is none.
func (t *Transformer) explainAlias(o *Outcome) {
	switch {
	case !t.cfg.alias:
		t.explainText("alias", verdictInfo, "off in the config (enableAliasCall)")
	case !o.hasAlias:
		t.explainText("alias", verdictInfo, "no usable id in userId, context.traits.userId or context.traits.id")
	default:
		top := &t.top
		for _, s := range [3]struct {
			k    topKey
			name string
		}{{tUserID, "userId"}, {tTraitsUserID, "context.traits.userId"}, {tTraitsID, "context.traits.id"}} {
			if _, ok := idText(top.get(s.k)); ok {
				t.explainText("alias", verdictInfo, "SHA-256 of "+s.name)
				return
			}
		}
	}
}

// explainFanOut records a command called once per product.
func (t *Transformer) explainFanOut(cmd Command, n int) {
	t.detail = append(t.detail[:0], cmd.String()...)
	t.detail = append(t.detail, ": one call per element of properties.products, "...)
	t.detail = strconv.AppendInt(t.detail, int64(n), 10)
	t.detail = append(t.detail, " call(s)"...)
	t.explain(StepFanOut.String(), verdictInfo, t.detail)
}

// explainView records where the view call's params came from.
func (t *Transformer) explainView(props int, url, referrer, propsID bool) {
	t.detail = append(t.detail[:0], "view: "...)
	if url {
		t.detail = append(t.detail, "url ← context.page.url, "...)
	}
	if referrer {
		t.detail = append(t.detail, "referrer ← context.page.referrer, "...)
	}
	t.detail = strconv.AppendInt(t.detail, int64(props), 10)
	t.detail = append(t.detail, " member(s) of properties as they are, "...)
	if propsID {
		t.detail = append(t.detail, "event_id ← properties.event_id"...)
	} else {
		t.detail = append(t.detail, "event_id ← messageId"...)
	}
	t.explain("params", verdictInfo, t.detail)
}
