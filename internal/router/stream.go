package router

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/pipeline"

	"github.com/tidwall/gjson"
	"go.uber.org/zap"
)

// ndjsonType is the media type of streamed batches: one event per line in,
// one result per line out.
const ndjsonType = "application/x-ndjson"

// flushBytes is how much output is gathered before it is written out.
const flushBytes = 32 << 10

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

// ndjsonStream holds the state of one streamed request.
type ndjsonStream struct {
	d        Deps
	w        http.ResponseWriter
	rc       *http.ResponseController
	st       *pipeline.Stream
	r        *http.Request
	log      *zap.Logger // the sampled debug log of undelivered events; nil: not at debug level
	out      []byte
	line     []byte
	timeout  time.Duration
	extended time.Time // when the deadlines were last renewed
}

// streamTransform serves POST /transform with an NDJSON body: it reads one
// event per line and writes what pipeline.Stream makes of it as it goes,
// renewing the deadlines while events arrive. The destination comes from
// the query.
func streamTransform(d Deps, w http.ResponseWriter, r *http.Request, undelivered *zap.Logger) {
	// A stream is scanned for nesting as it arrives, so it is not inflated.
	if enc := contentEncoding(r); enc != "" && enc != "identity" {
		writeError(w, r, apperr.New(apperr.Unsupported, "Content-Encoding %q is not supported on an NDJSON stream (send it uncompressed)", enc))
		return
	}
	q := r.URL.Query()
	set := d.Store.Current()
	noteDestination(r, set, q.Get("destination"))
	st, err := pipeline.OpenStream(set, pipeline.Query{DestinationID: q.Get("destination"), Include: q.Get("include"), Explain: explainAsked(r),
		BeaconURL: d.BeaconURL, MaxDepth: d.maxJSONDepth()}, d.MaxBodyBytes)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer st.Close()
	s := &ndjsonStream{d: d, w: w, rc: http.NewResponseController(w), timeout: d.StreamTimeout,
		st: st, r: r, log: undelivered, out: make([]byte, 0, flushBytes+4096)}
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	// Read the request while the response is being written (HTTP/1.1 full duplex).
	_ = s.rc.EnableFullDuplex()
	w.Header().Set("Content-Type", ndjsonType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// One stream per connection: a stream cut short leaves its body unread,
	// so the connection cannot carry another request.
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusOK)

	br := readers.Get().(*bufio.Reader)
	br.Reset(r.Body)
	defer func() { br.Reset(nil); readers.Put(br) }()
	readErr := s.run(br)
	info(r).summary = st.Summary()
	d.Metrics.ObserveBatch(st.Summary(), metricDestination(r))
	if readErr != nil {
		setError(r, readErr)
	}
	s.out = st.AppendEnd(s.out, readErr)
	// A stalled stream ran out of both deadlines: give the last write its own,
	// so the client still gets the results so far and the error line.
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	s.flush()
}

// run transforms every line until the body ends; it returns the read error
// that cut the stream short, if any.
func (s *ndjsonStream) run(br *bufio.Reader) error {
	s.extendDeadlines()
	for {
		line, tooLong, err := s.readLine(br)
		if len(bytes.TrimSpace(line)) > 0 || tooLong {
			start := len(s.out)
			s.out = s.st.AppendLine(s.out, line, tooLong)
			result := s.out[start : len(s.out)-1] // without its newline
			publishLine(s.d, s.st.Destination(), result)
			if s.log != nil {
				logUndelivered(s.log, s.r, gjson.ParseBytes(result))
			}
			// A stream that keeps sending events keeps its deadlines fresh
			// (renewed at most once a second: it is a timer update, not
			// free); blank lines do not, so a trickle of them is cut off.
			if time.Since(s.extended) > time.Second {
				s.extendDeadlines()
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return errors.New(bodyReadError(err))
		}
		if len(s.out) >= flushBytes {
			if !s.flush() {
				return errors.New("writing response: client gone")
			}
			s.extendDeadlines()
		}
	}
}

// readLine returns the next line without its newline. A line longer than
// the event limit is consumed and reported as tooLong instead.
func (s *ndjsonStream) readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	limit := int(s.d.MaxBodyBytes)
	s.line = s.line[:0]
	for {
		chunk, err := br.ReadSlice('\n')
		if len(s.line)+len(chunk) > limit+1 {
			tooLong = true
		} else {
			s.line = append(s.line, chunk...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimSuffix(s.line, []byte("\n")), tooLong, err
	}
}

// flush writes the gathered output and reports whether the client took it.
func (s *ndjsonStream) flush() bool {
	if len(s.out) == 0 {
		return true
	}
	_, err := s.w.Write(s.out)
	s.out = s.out[:0]
	if err == nil {
		err = s.rc.Flush()
	}
	return err == nil
}

// extendDeadlines gives a long stream fresh read and write deadlines at each
// step, so that the server's timeouts bound the silence, not the stream.
func (s *ndjsonStream) extendDeadlines() {
	s.extended = time.Now()
	at := s.extended.Add(s.timeout)
	_ = s.rc.SetReadDeadline(at)
	_ = s.rc.SetWriteDeadline(at)
}
