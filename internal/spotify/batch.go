package spotify

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/jsonscan"
)

// Request is a parsed /transform body (docs/BEHAVIOUR.md §7): an optional inline
// destination and the batch of events.
type Request struct {
	DestinationID string       // the inline destination's ID, "" when absent
	Inline        bool         // the body carries a destination
	Config        string       // the inline destination's raw Config JSON
	Batch         gjson.Result // the batch array; a guess until confirmed, unless Checked
	// Checked says the whole body was checked before the batch was found, so
	// that Batch is exact. Otherwise (the usual case, when "batch" is the
	// body's last member) the batch was taken to run to the body's last "]"
	// and its events are checked while they are transformed: the body is read
	// once. AppendBatch confirms the guess or reports that it was wrong.
	Checked bool
	rest    string // the body from the batch's "[" to its end
	limit   int    // the nesting limit of the body
}

// TrimBOM drops a leading UTF-8 byte order mark, which RFC 8259 lets a
// parser ignore, so that every front reads the same JSON text.
func TrimBOM(b []byte) []byte { return bytes.TrimPrefix(b, utf8BOM) }

var utf8BOM = []byte("\xef\xbb\xbf")

// Levels of a /transform body above its events: the body, then the batch.
const batchLevels = 2

// ParseRequestOnePass reads a /transform body's destination and guesses
// where its batch ends, so that the body is read once: every byte before the
// batch is checked here, the batch's events by AppendBatch. A leading UTF-8
// byte order mark is ignored, as RFC 8259 allows. The body may nest limit
// levels (0: jsonscan.MaxDepth).
// The Request refers into body, which must stay unchanged while it is used.
func ParseRequestOnePass(body []byte, limit int) (Request, error) {
	return parseRequest(body, limit, true)
}

// ParseRequestChecked is ParseRequestOnePass for when the guess failed:
// it checks the whole body first and finds the batch exactly.
func ParseRequestChecked(body []byte, limit int) (Request, error) {
	return parseRequest(body, limit, false)
}

func parseRequest(body []byte, limit int, guess bool) (Request, error) {
	if len(body) == 0 {
		return Request{}, apperr.New(apperr.BadRequest, "request body is empty")
	}
	if limit <= 0 {
		limit = jsonscan.MaxDepth
	}
	s := jsonscan.Str(TrimBOM(body))
	batchEnd := -1
	if limit >= batchLevels { // else the batch alone may be too deep: check first
		batchEnd = guessBatchEnd(s)
	}
	if !guess || batchEnd < 0 {
		if err := CheckBody(s, limit); err != nil {
			return Request{}, err
		}
	}
	i := jsonscan.SkipWS(s, 0)
	if i >= len(s) || s[i] != '{' {
		if err := CheckBody(s, limit); err != nil {
			return Request{}, err
		}
		return Request{}, apperr.New(apperr.BadRequest, "request body must be a JSON object")
	}
	r := Request{Checked: !guess || batchEnd < 0, limit: limit}
	var dest gjson.Result
	end := jsonscan.Members(s, i, limit, func(key, _ string, vs int) int {
		switch key {
		case "batch": // a repeated key: the last one wins (a guess fails on it)
			if !r.Checked && s[vs] == '[' {
				r.Batch = gjson.Result{Type: gjson.JSON, Raw: s[vs:batchEnd]}
				r.rest = s[vs:]
				return -1 // the rest is the batch's, and AppendBatch's to check
			}
			end := jsonscan.SkipValue(s, vs, limit-1)
			r.Batch = jsonscan.Value(s[vs:end])
			return end
		case "destination":
			end := jsonscan.SkipValue(s, vs, limit-1)
			dest = jsonscan.Value(s[vs:end])
			return end
		}
		return jsonscan.SkipValue(s, vs, limit-1)
	})
	if r.rest == "" && !r.Checked && (end >= len(s) || jsonscan.SkipWS(s, end) != len(s)) {
		// Malformed before the batch, or no batch to guess: say exactly what.
		return parseRequest(body, limit, false)
	}
	if err := r.readDestination(dest); err != nil {
		if cerr := r.Check(body); cerr != nil {
			return Request{}, cerr // a body that is not JSON says so first
		}
		return Request{}, err
	}
	if !r.Batch.IsArray() {
		return Request{}, apperr.New(apperr.BadRequest, "batch must be an array of events")
	}
	return r, nil
}

// guessBatchEnd returns the index just past the last "]" of s when only
// whitespace and the body's closing "}" follow it, else -1.
func guessBatchEnd(s string) int {
	i := len(s) - 1
	for i >= 0 && isSpace(s[i]) {
		i--
	}
	if i < 0 || s[i] != '}' {
		return -1
	}
	for i--; i >= 0 && isSpace(s[i]); i-- {
	}
	if i < 0 || s[i] != ']' {
		return -1
	}
	return i + 1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// readDestination takes the inline destination's ID and Config.
func (r *Request) readDestination(d gjson.Result) error {
	if !d.Exists() || d.Type == gjson.Null {
		return nil
	}
	if !d.IsObject() {
		return apperr.New(apperr.BadRequest, "destination must be an object")
	}
	r.Inline = true
	if id := lastMember(d, "ID"); present(id) {
		if id.Type != gjson.String {
			return apperr.New(apperr.BadRequest, "destination.ID must be a string")
		}
		r.DestinationID = id.Str
	}
	r.Config = lastMember(d, "Config").Raw
	return nil
}

// CheckBody returns the 400 error for a request body that is not JSON or
// nests deeper than limit, naming the byte where the fault is; nil if it
// is well formed.
func CheckBody(s string, limit int) error {
	if e := jsonscan.Check(s, limit); e != nil {
		return apperr.New(apperr.BadRequest, "request body %s", e.Error())
	}
	return nil
}

// Check returns the error of a body a guessed walk could not confirm, or
// nil when the body is well formed (the guess alone was wrong).
func (r *Request) Check(body []byte) error {
	if r.Checked {
		return nil
	}
	return CheckBody(jsonscan.Str(TrimBOM(body)), r.limit)
}

// Span is where one event of a batch stands in the batch's raw text.
type Span struct{ Start, End int }

// AppendSpans appends the position of every event of req's batch to dst,
// so that callers can count events and split a batch without transforming
// it. It checks only the batch's brackets and commas, and follows strings
// and brackets within events: AppendSpanResults checks each event. It
// reports false when the batch is not what ParseRequestOnePass guessed.
func AppendSpans(dst []Span, req *Request) ([]Span, bool) {
	s, want := req.text()
	end := jsonscan.Elements(s, 0, func(at int) int {
		end := jsonscan.SkipRaw(s, at)
		if end > at && end < len(s) {
			dst = append(dst, Span{at, end})
			return end
		}
		return len(s)
	})
	return dst, end == want
}

// EventLimit is how deep each event of the batch may nest: the body's
// limit less the levels of the body and the batch.
func (r *Request) EventLimit() int { return r.limit - batchLevels }

// text returns the text to walk for the batch and where the walk must end.
func (r *Request) text() (string, int) {
	if r.Checked {
		return r.Batch.Raw, len(r.Batch.Raw)
	}
	return r.rest, len(r.Batch.Raw)
}

// CountEvents returns the number of events in a batch array without decoding them.
func CountEvents(batch gjson.Result) int {
	n := 0
	jsonscan.Elements(batch.Raw, 0, func(at int) int { n++; return jsonscan.SkipValue(batch.Raw, at, jsonscan.NoLimit) })
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

// AppendResults transforms every event of batch (checked JSON) and appends
// their results, comma-separated, numbering them from first; it counts them
// in sum. With maxEvents > 0 it stops after maxEvents events and reports false when the
// batch holds more, so that a caller can enforce a limit without a counting
// pass.
func (t *Transformer) AppendResults(dst []byte, batch gjson.Result, first, maxEvents int, sum *Summary) ([]byte, bool) {
	dst, _, within := t.appendBatch(dst, batch.Raw, first, maxEvents, jsonscan.NoLimit, sum)
	return dst, within
}

// AppendBatch is AppendResults for req's batch, checking its events as it
// goes. It reports false when it stopped early: after max events (max > 0)
// when the batch holds more, or, for a guessed request, when the body was
// not what ParseRequestOnePass guessed (malformed, or the batch ended before the
// body's last "]"). The caller then drops the output: a guessed request
// starts again with ParseRequestChecked, a checked one has too many events.
func (t *Transformer) AppendBatch(dst []byte, req *Request, maxEvents int, sum *Summary) ([]byte, bool) {
	s, want := req.text()
	dst, end, within := t.appendBatch(dst, s, 0, maxEvents, req.limit-batchLevels, sum)
	return dst, within && end == want
}

// appendBatch walks the array at the start of s, events nesting at most
// limit levels, and returns the index just past it (len(s) when it is
// malformed).
func (t *Transformer) appendBatch(dst []byte, s string, first, maxEvents, limit int, sum *Summary) ([]byte, int, bool) {
	i := first
	// One check of the whole batch spares a check per event in the usual case.
	t.utf8OK = utf8.ValidString(s)
	t.limit = limit
	defer func() { t.utf8OK, t.limit = false, jsonscan.NoLimit }()
	within := true
	end := jsonscan.Elements(s, 0, func(at int) int {
		if maxEvents > 0 && i-first == maxEvents {
			within = false
			return -1
		}
		if i > first {
			dst = append(dst, ',')
		}
		o, end := t.transformAt(s, at)
		sum.Add(o)
		dst = t.appendResult(dst, i, o)
		i++
		return end
	})
	return dst, end, within
}

// AppendSpanResults transforms the events of raw (a batch's text, from
// AppendSpans) at spans and appends their results, comma-separated,
// numbering them from first. It checks each event (nesting at most limit
// levels) and reports false when one is malformed or does not end where its
// span does.
func (t *Transformer) AppendSpanResults(dst []byte, raw string, spans []Span, first, limit int, sum *Summary) ([]byte, bool) {
	if len(spans) == 0 {
		return dst, true
	}
	// One check of the chunk spares a check per event in the usual case.
	t.utf8OK = utf8.ValidString(raw[spans[0].Start:spans[len(spans)-1].End])
	t.limit = limit
	defer func() { t.utf8OK, t.limit = false, jsonscan.NoLimit }()
	for k, sp := range spans {
		if k > 0 {
			dst = append(dst, ',')
		}
		// A byte of what follows the event (a comma or "]") tells a
		// malformed event, which ends the walk at the end of its text,
		// from a well-formed one.
		o, end := t.transformAt(raw[:sp.End+1], sp.Start)
		if end != sp.End {
			return dst, false
		}
		sum.Add(o)
		dst = t.appendResult(dst, first+k, o)
	}
	return dst, true
}

// AppendResponseHead appends the response up to the opening of results.
func AppendResponseHead(dst []byte, destinationID string, cfg *Config) []byte {
	dst = append(dst, `{"destinationId":`...)
	if destinationID == "" {
		dst = append(dst, "null"...)
	} else {
		dst = jsonscan.AppendString(dst, destinationID)
	}
	dst = append(dst, `,"pixelId":`...)
	dst = jsonscan.AppendString(dst, cfg.PixelID)
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
	dst = AppendResponseTail(dst, &sum)
	return dst, sum
}
