package pipeline

import (
	"github.com/tidwall/gjson"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/jsonscan"
)

// This file frames a /transform body (docs/BEHAVIOUR.md §7): where its
// destination and batch are, read in one pass over the body when it can.

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
	// once. The walk confirms the guess or shows that it was wrong.
	Checked bool
	rest    string // the body from the batch's "[" to its end
	limit   int    // the nesting limit of the body
}

// Levels of a /transform body above its events: the body, then the batch.
const batchLevels = 2

// ParseOnePass reads a /transform body's destination and guesses
// where its batch ends, so that the body is read once: every byte before the
// batch is checked here, the batch's events while they are transformed
// (Transformer.AppendEvents). A leading UTF-8
// byte order mark is ignored, as RFC 8259 allows. The body may nest limit
// levels (0: jsonscan.MaxDepth).
// The Request refers into body, which must stay unchanged while it is used.
func ParseOnePass(body []byte, limit int) (Request, error) {
	return parseRequest(body, limit, true)
}

// ParseChecked is ParseOnePass for when the guess failed:
// it checks the whole body first and finds the batch exactly.
func ParseChecked(body []byte, limit int) (Request, error) {
	return parseRequest(body, limit, false)
}

func parseRequest(body []byte, limit int, guess bool) (Request, error) {
	if len(body) == 0 {
		return Request{}, apperr.New(apperr.BadRequest, "request body is empty")
	}
	if limit <= 0 {
		limit = jsonscan.MaxDepth
	}
	s := jsonscan.Str(jsonscan.TrimBOM(body))
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
				return -1 // the rest is the batch's, and AppendEvents's to check
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
	if id := jsonscan.LastMember(d, "ID"); id.Exists() && id.Type != gjson.Null && id.Raw != `""` {
		if id.Type != gjson.String {
			return apperr.New(apperr.BadRequest, "destination.ID must be a string")
		}
		r.DestinationID = id.Str
	}
	r.Config = jsonscan.LastMember(d, "Config").Raw
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
	return CheckBody(jsonscan.Str(jsonscan.TrimBOM(body)), r.limit)
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

// spans appends where each event of the batch stands in the batch's text,
// checking only the batch's brackets and commas; it reports false when the
// batch is not what ParseOnePass guessed.
func (r *Request) spans(dst []jsonscan.Span) ([]jsonscan.Span, bool) {
	s, want := r.text()
	dst, end := jsonscan.AppendSpans(dst, s)
	return dst, end == want
}
