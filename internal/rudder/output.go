package rudder

import (
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/spotify"
)

// appendOutput appends the delivery request of call i: a GET of the image
// pixel with docs/BEHAVIOUR.md §5's beacon parameters, in rudder-transformer's
// defaultRequestConfig shape, with the visitor's user agent and IP as
// headers so that the pixel sees the real visitor.
// Call prepareDelivery for the outcome first.
func (r *transformRun) appendOutput(dst []byte, tr *spotify.Transformer, o *spotify.Outcome, i int) []byte {
	dst = append(dst, `{"version":"1","type":"REST","method":"GET","endpoint":`...)
	dst = jsonscan.AppendString(dst, r.opts.beaconURL())
	dst = append(dst, `,"headers":`...)
	dst = append(dst, r.headers...)
	dst = append(dst, `,"params":{"key":`...)
	dst = jsonscan.AppendString(dst, tr.Config().PixelID)
	dst = append(dst, `,"a":`...)
	dst = jsonscan.AppendString(dst, o.Calls[i].Command.Action())
	o.BeaconParams(i, func(name string, v gjson.Result) {
		dst = append(dst, ',')
		dst = jsonscan.AppendString(dst, name)
		dst = append(dst, ':')
		if v.Type == gjson.String {
			dst = jsonscan.AppendString(dst, v.Str)
		} else {
			dst = jsonscan.AppendString(dst, v.Raw)
		}
	})
	dst = append(dst, `},"body":{"JSON":{},"JSON_ARRAY":{},"XML":{},"FORM":{}},"files":{},"userId":`...)
	dst = append(dst, r.userID...)
	return append(dst, '}')
}

// prepareDelivery renders what every delivery request of an event shares:
// its headers and its userId.
func (r *transformRun) prepareDelivery(ev gjson.Result) {
	r.headers = appendHeaders(r.headers[:0], ev)
	r.userID = jsonscan.AppendString(r.userID[:0], userIDOf(ev.Get("userId")))
}

// appendHeaders appends the output's headers: User-Agent from
// context.userAgent and X-Forwarded-For from context.ip, else request_ip,
// each when it is a non-empty string that is a valid header value.
func appendHeaders(dst []byte, ev gjson.Result) []byte {
	dst = append(dst, '{')
	ctx := ev.Get("context")
	if ua := ctx.Get("userAgent"); headerValue(ua) {
		dst = append(dst, `"User-Agent":`...)
		dst = jsonscan.AppendString(dst, ua.Str)
	}
	ip := ctx.Get("ip")
	if !headerValue(ip) {
		ip = ev.Get("request_ip")
	}
	if headerValue(ip) {
		if dst[len(dst)-1] != '{' {
			dst = append(dst, ',')
		}
		dst = append(dst, `"X-Forwarded-For":`...)
		dst = jsonscan.AppendString(dst, ip.Str)
	}
	return append(dst, '}')
}

// headerValue accepts a non-empty string without control characters (which
// an HTTP client would refuse, or which could split a header).
func headerValue(v gjson.Result) bool {
	if v.Type != gjson.String || v.Str == "" || !utf8.ValidString(v.Str) {
		return false
	}
	for i := 0; i < len(v.Str); i++ {
		if c := v.Str[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// userIDOf is the output's userId as rudder-transformer writes it: the
// message's userId as text, "" when it is falsy (missing, null, "", 0,
// false) or not a scalar.
func userIDOf(v gjson.Result) string {
	switch v.Type {
	case gjson.String:
		return v.Str
	case gjson.Number:
		if v.Float() == 0 {
			return ""
		}
		return v.Raw
	case gjson.True:
		return "true"
	}
	return ""
}

// appendStatTags appends the statTags of a filtered or failed event, as
// rudder-transformer fills them: the error's category and type, then the
// destination's tags, with destinationId and workspaceId from the metadata.
func (r *transformRun) appendStatTags(dst []byte, v verdict, md gjson.Result) []byte {
	if v.status == spotify.StatusFiltered {
		dst = append(dst, `{"errorCategory":"transformation","errorType":"filtered"`...)
	} else {
		dst = append(dst, `{"errorCategory":"dataValidation","errorType":`...)
		dst = jsonscan.AppendString(dst, v.errorType)
	}
	dst = append(dst, `,"destType":"`+DestType+`","module":"destination","implementation":"native","feature":`...)
	dst = jsonscan.AppendString(dst, r.feature)
	for _, k := range [...]string{"destinationId", "workspaceId"} {
		if v, ok := tagValue(md.Get(k)); ok {
			dst = append(dst, ',')
			dst = jsonscan.AppendString(dst, k)
			dst = append(dst, ':')
			dst = jsonscan.AppendString(dst, v)
		}
	}
	return append(dst, '}')
}

// tagValue renders a metadata value as a stat tag: rudder-server reads
// statTags as strings, so a number or boolean goes as its JSON text and
// anything else is left out.
func tagValue(v gjson.Result) (string, bool) {
	switch v.Type {
	case gjson.String:
		return v.Str, true
	case gjson.Number, gjson.True, gjson.False:
		return v.Raw, true
	}
	return "", false
}

// appendRaw appends raw JSON exactly as it came (unknown keys, key order,
// number spellings and whitespace kept), except that bytes of invalid UTF-8
// (which valid JSON can only hold inside strings) become \ufffd, so that the
// reply is always valid UTF-8 JSON.
func appendRaw(dst []byte, raw string) []byte { return jsonscan.AppendValidUTF8(dst, raw) }
