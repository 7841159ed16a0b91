package pipeline

import (
	"strconv"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/destinations"
	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/spotify"
)

// Stream runs an NDJSON stream (docs/BEHAVIOUR.md §7): one event per line
// in, one result per line out, with the destination, outputs and checks of
// a /transform batch, so that a stream of any length runs in constant
// memory. The HTTP front reads the lines and writes the output; Stream
// decides what each line becomes. It is not safe for concurrent use.
type Stream struct {
	t        *spotify.Transformer
	id       string
	cfg      *spotify.Config
	limit    int   // nesting limit of one event line
	maxBytes int64 // longest event line, for its error
	index    int
	sum      spotify.Summary
}

// OpenStream resolves the destination q names (a stream has no body to
// carry one: ?destination= is required) and checks the outputs it asks for.
// maxLine is the longest event line allowed, named in the error of one
// that is longer. Close returns the Stream's resources.
func OpenStream(set *destinations.Set, q Query, maxLine int64) (*Stream, error) {
	if q.DestinationID == "" {
		return nil, apperr.New(apperr.BadRequest, "an NDJSON stream needs ?destination=<id>")
	}
	dest, err := set.Get(q.DestinationID)
	if err != nil {
		return nil, err
	}
	opts, err := q.Options()
	if err == nil {
		err = CheckCAPI(dest.Config, opts)
	}
	if err != nil {
		return nil, err
	}
	limit := q.MaxDepth
	if limit <= 0 {
		limit = jsonscan.MaxDepth
	}
	return &Stream{t: getTransformer(dest.Config, opts), id: q.DestinationID, cfg: dest.Config, limit: limit, maxBytes: maxLine}, nil
}

// AppendLine transforms one event line and appends its result line; a line
// that was too long (its bytes dropped) or is not JSON fails alone, and its
// neighbours are unaffected.
func (s *Stream) AppendLine(dst, line []byte, tooLong bool) []byte {
	var o *spotify.Outcome
	switch {
	case tooLong:
		o = s.t.Fail(spotify.ErrInstrumentation, "event is larger than the limit of "+strconv.FormatInt(s.maxBytes, 10)+" bytes")
	case jsonscan.CheckBytes(line, s.limit) != nil:
		o = s.t.Fail(spotify.ErrInstrumentation, "event is not valid JSON")
	default:
		o = s.t.TransformBytes(line)
	}
	s.sum.Add(o)
	dst = s.t.AppendResult(dst, s.index)
	s.index++
	return append(dst, '\n')
}

// Destination is the id of the stream's destination.
func (s *Stream) Destination() string { return s.id }

// Summary is the count of the stream's results so far.
func (s *Stream) Summary() *spotify.Summary { return &s.sum }

// AppendEnd appends the stream's last line: the summary with the
// destination and pixel ids, or, when reading the stream failed, the error.
func (s *Stream) AppendEnd(dst []byte, readErr error) []byte {
	if readErr != nil {
		dst = append(dst, `{"error":`...)
		dst = jsonscan.AppendString(dst, readErr.Error())
		return append(dst, "}\n"...)
	}
	dst = append(dst, `{"summary":`...)
	dst = s.sum.AppendJSON(dst)
	dst = append(dst, `,"destinationId":`...)
	dst = jsonscan.AppendString(dst, s.id)
	dst = append(dst, `,"pixelId":`...)
	dst = jsonscan.AppendString(dst, s.cfg.PixelID)
	return append(dst, "}\n"...)
}

// Close pools the stream's Transformer again; the Stream is not used after.
func (s *Stream) Close() {
	putTransformer(s.t)
	s.t = nil
}
