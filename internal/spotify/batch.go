package spotify

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/apperr"
)

// Request is a parsed /transform body (SPEC 7): an optional inline
// destination and the batch of events.
type Request struct {
	DestinationID string       // the inline destination's ID, "" when absent
	Inline        bool         // the body carries a destination
	Config        string       // the inline destination's raw Config JSON
	Batch         gjson.Result // the batch array
}

var utf8BOM = []byte("\xef\xbb\xbf")

// ParseRequest validates a /transform body's JSON and shape; a leading UTF-8
// byte order mark is ignored, as RFC 8259 allows. The Request
// refers into body, which must stay unchanged while it is used.
func ParseRequest(body []byte) (Request, error) {
	if len(body) == 0 {
		return Request{}, apperr.New(apperr.BadRequest, "request body is empty")
	}
	body = bytes.TrimPrefix(body, utf8BOM)
	if !gjson.ValidBytes(body) {
		return Request{}, apperr.New(apperr.BadRequest, "request body is not valid JSON")
	}
	root := gjson.Parse(bstr(body))
	if !root.IsObject() {
		return Request{}, apperr.New(apperr.BadRequest, "request body must be a JSON object")
	}
	var r Request
	var dest gjson.Result
	members(root.Raw, 0, func(key, _ string, vs int) int {
		end := skipValue(root.Raw, vs)
		switch {
		case key == "destination" && !dest.Exists():
			dest = value(root.Raw[vs:end])
		case key == "batch" && !r.Batch.Exists():
			r.Batch = value(root.Raw[vs:end])
		}
		return end
	})
	if d := dest; d.Exists() && d.Type != gjson.Null {
		if !d.IsObject() {
			return Request{}, apperr.New(apperr.BadRequest, "destination must be an object")
		}
		r.Inline = true
		if id := d.Get("ID"); present(id) {
			if id.Type != gjson.String {
				return Request{}, apperr.New(apperr.BadRequest, "destination.ID must be a string")
			}
			r.DestinationID = id.Str
		}
		r.Config = d.Get("Config").Raw
	}
	if !r.Batch.IsArray() {
		return Request{}, apperr.New(apperr.BadRequest, "batch must be an array of events")
	}
	return r, nil
}

// Span is where one event of a batch stands in the batch's raw text.
type Span struct{ Start, End int }

// AppendSpans appends the position of every event of batch to dst, so that
// callers can count events and split a batch without decoding it.
func AppendSpans(dst []Span, batch gjson.Result) []Span {
	raw := batch.Raw
	elements(raw, func(at int) int {
		end := skipValue(raw, at)
		dst = append(dst, Span{at, end})
		return end
	})
	return dst
}

// CountEvents returns the number of events in a batch array without decoding them.
func CountEvents(batch gjson.Result) int {
	n := 0
	elements(batch.Raw, func(at int) int { n++; return skipValue(batch.Raw, at) })
	return n
}

// Summary counts a batch's outcomes, for the response and for metrics.
type Summary struct {
	Events, OK, Filtered, Failed, Calls int
	ByKind                              [NumKinds][3]int // events by kind and Status
	ByCommand                           [NumCommands]int // calls by command
}

// Add counts one outcome.
func (s *Summary) Add(o *Outcome) {
	s.Events++
	s.ByKind[o.Kind][o.Status]++
	switch o.Status {
	case StatusOK:
		s.OK++
		s.Calls += len(o.Calls)
		for i := range o.Calls {
			s.ByCommand[o.Calls[i].Command]++
		}
	case StatusFiltered:
		s.Filtered++
	default:
		s.Failed++
	}
}

// Merge adds another summary's counts to s.
func (s *Summary) Merge(x *Summary) {
	s.Events += x.Events
	s.OK += x.OK
	s.Filtered += x.Filtered
	s.Failed += x.Failed
	s.Calls += x.Calls
	for k := range s.ByKind {
		for st := range s.ByKind[k] {
			s.ByKind[k][st] += x.ByKind[k][st]
		}
	}
	for c := range s.ByCommand {
		s.ByCommand[c] += x.ByCommand[c]
	}
}

// AppendJSON appends the response's summary object.
func (s *Summary) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"events":`...)
	dst = strconv.AppendInt(dst, int64(s.Events), 10)
	dst = append(dst, `,"ok":`...)
	dst = strconv.AppendInt(dst, int64(s.OK), 10)
	dst = append(dst, `,"filtered":`...)
	dst = strconv.AppendInt(dst, int64(s.Filtered), 10)
	dst = append(dst, `,"failed":`...)
	dst = strconv.AppendInt(dst, int64(s.Failed), 10)
	dst = append(dst, `,"calls":`...)
	dst = strconv.AppendInt(dst, int64(s.Calls), 10)
	return append(dst, '}')
}

// AppendResults transforms every event of batch and appends their results,
// comma-separated, numbering them from first; it counts them in sum. With
// max > 0 it stops after max events and reports false when the batch holds
// more, so that a caller can enforce a limit without a counting pass.
func (t *Transformer) AppendResults(dst []byte, batch gjson.Result, first, max int, sum *Summary) ([]byte, bool) {
	i := first
	// One check of the whole batch spares a check per event in the usual case.
	t.utf8OK = utf8.ValidString(batch.Raw)
	defer func() { t.utf8OK = false }()
	raw := batch.Raw
	within := true
	elements(raw, func(at int) int {
		if max > 0 && i-first == max {
			within = false
			return -1
		}
		if i > first {
			dst = append(dst, ',')
		}
		o, end := t.transformAt(raw, at)
		sum.Add(o)
		dst = t.appendResult(dst, i, o)
		i++
		return end
	})
	return dst, within
}

// AppendSpanResults transforms the events of raw (a batch's text) at spans
// and appends their results, comma-separated, numbering them from first.
func (t *Transformer) AppendSpanResults(dst []byte, raw string, spans []Span, first int, sum *Summary) []byte {
	if len(spans) == 0 {
		return dst
	}
	// One check of the chunk spares a check per event in the usual case.
	t.utf8OK = utf8.ValidString(raw[spans[0].Start:spans[len(spans)-1].End])
	defer func() { t.utf8OK = false }()
	for k, sp := range spans {
		if k > 0 {
			dst = append(dst, ',')
		}
		o, _ := t.transformAt(raw[:sp.End], sp.Start)
		sum.Add(o)
		dst = t.appendResult(dst, first+k, o)
	}
	return dst
}

// AppendResponseHead appends the response up to the opening of results.
func AppendResponseHead(dst []byte, destinationID string, cfg *Config) []byte {
	dst = append(dst, `{"destinationId":`...)
	if destinationID == "" {
		dst = append(dst, "null"...)
	} else {
		dst = AppendJSONString(dst, destinationID)
	}
	dst = append(dst, `,"pixelId":`...)
	dst = AppendJSONString(dst, cfg.PixelID)
	return append(dst, `,"results":[`...)
}

// AppendResponseTail closes results and appends the summary.
func AppendResponseTail(dst []byte, sum *Summary) []byte {
	dst = append(dst, `],"summary":`...)
	dst = sum.AppendJSON(dst)
	return append(dst, "}\n"...)
}

// AppendResponseTailCAPI closes results, appends the summary and then
// capiRequests: the Conversions API request bodies holding every result's
// events in order, at most batchSize events each.
func AppendResponseTailCAPI(dst []byte, sum *Summary, connectionID string, batchSize int, parts ...*CAPIEvents) []byte {
	dst = append(dst, `],"summary":`...)
	dst = sum.AppendJSON(dst)
	dst = append(dst, `,"capiRequests":`...)
	dst = AppendEnvelopes(dst, connectionID, batchSize, parts...)
	return append(dst, "}\n"...)
}

// AppendResponse appends the whole /transform response for batch.
func (t *Transformer) AppendResponse(dst []byte, destinationID string, batch gjson.Result) ([]byte, Summary) {
	var sum Summary
	dst = AppendResponseHead(dst, destinationID, t.cfg)
	dst, _ = t.AppendResults(dst, batch, 0, 0, &sum)
	return AppendResponseTail(dst, &sum), sum
}
