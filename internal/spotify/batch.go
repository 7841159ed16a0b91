package spotify

import (
	"strconv"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/capi"
	"spotifypixel/internal/jsonscan"
)

// Summary counts a batch's outcomes, for the response and for metrics.
type Summary struct {
	Events, OK, Filtered, Failed, Calls int
	ByKind                              [NumKinds][3]int // events by kind and Status
	ByCommand                           [NumCommands]int // calls by command
	ByStep                              [NumSteps][3]int // events by deciding step and Status
}

// Add counts one outcome.
func (s *Summary) Add(o *Outcome) {
	s.Events++
	s.ByKind[o.Kind][o.Status]++
	s.ByStep[o.Step][o.Status]++
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
	for k := range s.ByStep {
		for st := range s.ByStep[k] {
			s.ByStep[k][st] += x.ByStep[k][st]
		}
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

// AppendEvents is AppendResults for the batch array at the start of s,
// checking its events (nesting at most limit levels each) as it goes, so
// that a body is read once. It returns the index just past the array
// (len(s) when it is malformed), and false when it stopped after maxEvents
// events (maxEvents > 0) with more to come.
func (t *Transformer) AppendEvents(dst []byte, s string, limit, maxEvents int, sum *Summary) ([]byte, int, bool) {
	return t.appendBatch(dst, s, 0, maxEvents, limit, sum)
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
// jsonscan.AppendSpans) at spans and appends their results, comma-separated,
// numbering them from first. It checks each event (nesting at most limit
// levels) and reports false when one is malformed or does not end where its
// span does.
func (t *Transformer) AppendSpanResults(dst []byte, raw string, spans []jsonscan.Span, first, limit int, sum *Summary) ([]byte, bool) {
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
func AppendResponseTailCAPI(dst []byte, sum *Summary, connectionID string, batchSize int, parts ...*capi.Events) []byte {
	dst = append(dst, `],"summary":`...)
	dst = sum.AppendJSON(dst)
	dst = append(dst, `,"capiRequests":`...)
	dst = capi.AppendEnvelopes(dst, connectionID, batchSize, parts...)
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
