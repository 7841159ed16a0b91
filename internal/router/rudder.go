package router

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/rudder"
	"spotifypixel/internal/spotify"
)

// rudderFront serves rudder-transformer's protocol (docs/BEHAVIOUR.md §7, "RudderStack
// transformer compatibility"): thin handlers around internal/rudder, plus
// the HTTP details rudder-server relies on (the apiVersion header, gzip
// bodies both ways).
type rudderFront struct {
	d  Deps
	gz sync.Pool // *gzip.Writer, reused between responses of this router
}

func newRudderFront(d Deps) *rudderFront {
	return &rudderFront{d: d, gz: sync.Pool{New: func() any {
		zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
		return zw
	}}}
}

// transformFunc is a rudder front entry point: rudder.Processor or rudder.Router.
type transformFunc func(dst, body []byte, compacted bool, opts rudder.Options) ([]byte, spotify.Summary, error)

// processor serves POST /v0/destinations/{destination}.
func (f *rudderFront) processor(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("apiVersion", rudder.APIVersion)
	if name := chi.URLParam(r, "destination"); !rudder.IsDestination(name) {
		writeError(w, r, apperr.Redacted(apperr.NotFound, "Unknown destination: unknown", "Unknown destination: %s", name))
		return
	}
	f.serve(w, r, rudder.Processor)
}

// router serves POST /routerTransform.
func (f *rudderFront) router(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("apiVersion", rudder.APIVersion)
	f.serve(w, r, rudder.Router)
}

// features serves GET /features, which rudder-server polls; in sidecar
// mode, the upstream's document with ours merged in (never an error).
func (f *rudderFront) features(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	doc := rudder.AppendFeatures(nil)
	if f.d.Upstream != nil {
		doc = f.d.Upstream.Features(r.Context(), doc)
	}
	w.Write(doc)
}

// serve reads the body (gzip or not), runs fn, counts the events and
// writes the reply (gzip when the client accepts it). The body is not
// guarded as it arrives (its route's bodyPolicy has no guard): fn checks it, nesting limit
// included, with the engine's validator before gjson reads it.
func (f *rudderFront) serve(w http.ResponseWriter, r *http.Request, fn transformFunc) {
	if err := checkJSON(r); err != nil {
		writeError(w, r, err)
		return
	}
	in := getBuf()
	defer putBuf(in)
	if err := readEncodedBody(w, r, in, f.d.MaxBodyBytes); err != nil {
		writeError(w, r, err)
		return
	}
	opts := rudder.Options{BeaconURL: f.d.BeaconURL, MaxEvents: f.d.MaxBatchEvents, CAPIURL: f.d.CAPIURL,
		CAPIBatchSize: f.d.CAPIBatchSize, MaxDepth: f.d.maxJSONDepth(), Explain: explainAsked(r)}
	compacted := rudder.IsCompacted(r.Header.Get("X-Content-Format"))
	serveBatch(w, r, f.d.Metrics, func(dst []byte) ([]byte, spotify.Summary, error) {
		return fn(dst, in.Bytes(), compacted, opts)
	}, func(resp []byte) { f.write(w, r, resp) })
}

// contentEncoding is the request's Content-Encoding as it is compared:
// trimmed and lower-case ("" when there is none).
func contentEncoding(r *http.Request) string {
	return strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
}

// readEncodedBody reads the request body into buf, inflating it when it
// comes with Content-Encoding: gzip; the size limit applies to the compressed
// and to the inflated bytes, so a small bomb cannot blow up in memory (413).
// Any other encoding is a 415 that names it.
func readEncodedBody(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer, limit int64) error {
	switch enc := contentEncoding(r); enc {
	case "", "identity":
		return readBody(w, r, buf, limit)
	case "gzip", "x-gzip":
	default:
		return apperr.New(apperr.Unsupported, "Content-Encoding %q is not supported (use gzip or none)", enc)
	}
	if limit > 0 && r.ContentLength > limit {
		return apperr.New(apperr.TooLarge, "request body is %d bytes, more than the limit of %d", r.ContentLength, limit)
	}
	var compressed io.Reader = r.Body
	if limit > 0 {
		compressed = http.MaxBytesReader(w, r.Body, limit)
	}
	zr, err := gzip.NewReader(compressed)
	if err != nil {
		var tooBig *http.MaxBytesError
		var ae *apperr.Error
		var slow *errBodyTimeout
		if errors.As(err, &tooBig) || errors.As(err, &ae) || errors.As(err, &slow) {
			return bodyError(err, limit)
		}
		return &apperr.Error{Code: apperr.BadRequest, Message: "request body is not valid gzip: " + err.Error(), Err: err}
	}
	defer zr.Close()
	plain := r.WithContext(r.Context())
	plain.Body = io.NopCloser(charged(r, zr)) // the inflated bytes are held too
	plain.ContentLength = -1
	return readBody(w, plain, buf, limit)
}

// write sends a 200 JSON reply, gzip-encoded when the client accepts gzip.
func (f *rudderFront) write(w http.ResponseWriter, r *http.Request, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Add("Vary", "Accept-Encoding")
	if !acceptsGzip(r.Header.Values("Accept-Encoding")) {
		w.Write(body)
		return
	}
	h.Set("Content-Encoding", "gzip")
	zw := f.gz.Get().(*gzip.Writer)
	zw.Reset(w)
	// Write and Close fail only when the client has gone; the access log
	// records the bytes written.
	_, _ = zw.Write(body)
	_ = zw.Close()
	zw.Reset(io.Discard) // drop the reference to w before pooling
	f.gz.Put(zw)
}

// acceptsGzip reads Accept-Encoding (RFC 9110 12.5.3): gzip, x-gzip or *
// with a non-zero quality; an explicit gzip entry wins over *.
func acceptsGzip(values []string) bool {
	gzipQ, starQ := -1.0, -1.0
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					if x, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
						q = x
					}
				}
			}
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "gzip", "x-gzip":
				gzipQ = max(gzipQ, q)
			case "*":
				starQ = max(starQ, q)
			}
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}
