package router

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"sync"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/metrics"
	"spotifypixel/internal/pipeline"
	"spotifypixel/internal/spotify"

	"github.com/go-chi/chi/v5"
	"github.com/tidwall/gjson"
)

// bufPool recycles request and response buffers between requests.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooled keeps one huge batch from pinning its buffer forever.
const maxPooled = 4 << 20

// outPool recycles response buffers.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func getBuf() *bytes.Buffer { return bufPool.Get().(*bytes.Buffer) }

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= maxPooled {
		b.Reset()
		bufPool.Put(b)
	}
}

// transform serves POST /transform (docs/BEHAVIOUR.md §7).
func transform(d Deps) http.HandlerFunc {
	runner := d.Runner
	if runner == nil {
		runner = new(pipeline.Runner) // this router's requests in flight, shared
	}
	undelivered := undeliveredLogger(d.Logger) // nil: not at debug level
	return func(w http.ResponseWriter, r *http.Request) {
		if isNDJSON(r) {
			streamTransform(d, w, r, undelivered)
			return
		}
		in, ok := readJSONBody(w, r, d.MaxBodyBytes)
		if !ok {
			return
		}
		defer putBuf(in)
		q := pipeline.Query{
			DestinationID: r.URL.Query().Get("destination"),
			Include:       r.URL.Query().Get("include"),
			Explain:       explainAsked(r),
			MaxEvents:     d.MaxBatchEvents,
			BeaconURL:     d.BeaconURL,
			CAPIBatchSize: d.CAPIBatchSize,
			MaxDepth:      d.maxJSONDepth(),
		}
		set := d.Store.Current()
		noteDestination(r, set, q.DestinationID)
		serveBatch(w, r, d.Metrics, func(dst []byte) ([]byte, spotify.Summary, error) {
			return runner.Transform(dst, set, in.Bytes(), q)
		}, func(resp []byte) {
			publishResults(d, r, resp)
			if undelivered != nil {
				gjson.GetBytes(resp, "results").ForEach(func(_, res gjson.Result) bool {
					logUndelivered(undelivered, r, res)
					return true
				})
			}
			writeJSON(w, resp)
		})
	}
}

// writeJSON writes a whole JSON response with its length, so that it goes
// out in one piece rather than chunked.
func writeJSON(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// serveBatch runs fn with a pooled output buffer, counts its events for
// metrics and the access log and hands the response to write; on error it
// answers the error instead.
func serveBatch(w http.ResponseWriter, r *http.Request, m *metrics.Metrics, fn func(dst []byte) ([]byte, spotify.Summary, error), write func(resp []byte)) {
	out := outPool.Get().(*[]byte)
	resp, sum, err := fn((*out)[:0])
	defer func() {
		if cap(resp) <= maxPooled {
			*out = resp[:0]
			outPool.Put(out)
		}
	}()
	if err != nil {
		writeError(w, r, err)
		return
	}
	info(r).summary = &sum
	m.ObserveBatch(&sum, metricDestination(r))
	write(resp)
}

// metricDestination is the destination label of a request's events: the
// configured id it named (or "unknown"), "inline" for a /transform with its
// config in the body, "rudderstack" for the RudderStack routes, whose
// destinations rudder-server sends inline. The set stays bounded by the
// destinations file.
func metricDestination(r *http.Request) string {
	if d := info(r).destination; d != "" {
		return d
	}
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() == "/transform" {
		return "inline"
	}
	return "rudderstack"
}

// readJSONBody checks the content type and reads the body (inflated when it
// is gzip) into a pooled buffer (the caller puts it back); on failure it has
// answered the error.
func readJSONBody(w http.ResponseWriter, r *http.Request, limit int64) (*bytes.Buffer, bool) {
	if err := checkJSON(r); err != nil {
		writeError(w, r, err)
		return nil, false
	}
	in := getBuf()
	if err := readEncodedBody(w, r, in, limit); err != nil {
		putBuf(in)
		writeError(w, r, err)
		return nil, false
	}
	return in, true
}

// isNDJSON reports whether the body is a stream of events, one per line.
func isNDJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == ndjsonType
}

// checkJSON accepts an absent Content-Type or application/json.
func checkJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return apperr.New(apperr.Unsupported, "Content-Type must be application/json (or application/x-ndjson for a stream), got %q", ct)
	}
	return nil
}

// readBody reads the whole body into buf, refusing more than limit bytes while
// reading (not after).
func readBody(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer, limit int64) error {
	if limit > 0 && r.ContentLength > limit {
		return apperr.New(apperr.TooLarge, "request body is %d bytes, more than the limit of %d", r.ContentLength, limit)
	}
	body := r.Body
	if limit > 0 {
		body = http.MaxBytesReader(w, r.Body, limit)
	}
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(body); err != nil {
		return bodyError(err, limit)
	}
	return nil
}

// bodyError is the error a failed body read is answered with: 413 past the
// limit, the limits' own errors (408, 503) as they are, else a 400.
func bodyError(err error, limit int64) error {
	var tooBig *http.MaxBytesError
	var ae *apperr.Error
	switch {
	case errors.As(err, &tooBig):
		return apperr.New(apperr.TooLarge, "request body is more than the limit of %d bytes", limit)
	case errors.As(err, &ae) && ae.Code != apperr.BadRequest:
		return ae
	}
	return &apperr.Error{Code: apperr.BadRequest, Message: bodyReadError(err), Err: err}
}

// bodyReadError describes a failed body read without the network error's
// text, which names the client's address (logs must never hold an IP).
func bodyReadError(err error) string {
	var ne net.Error
	var ae *apperr.Error
	var timeout *errBodyTimeout
	var deep *errTooDeep
	switch {
	case errors.As(err, &ae):
		return ae.Message
	case errors.As(err, &timeout):
		return "reading request body: " + timeout.Error()
	case errors.As(err, &deep):
		return "reading request body: " + deep.Error()
	case errors.As(err, &ne) && ne.Timeout():
		return "reading request body: timed out waiting for data"
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "reading request body: the body ended early"
	}
	return "reading request body: the connection failed"
}

// explainAsked reports whether the request asks for the explain trace
// (?explain=1 or ?explain=true).
func explainAsked(r *http.Request) bool {
	v := r.URL.Query().Get("explain")
	return v == "1" || v == "true"
}
