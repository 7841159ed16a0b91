package router

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"net/http"

	"github.com/go-chi/chi/v5"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/pipeline"
	"spotifypixel/internal/rudder"
	"spotifypixel/internal/upstream"
)

// sidecar decides, in sidecar mode (Deps.Upstream set), which requests this
// service answers and which go to the upstream rudder-transformer: this
// service owns its operational routes, /transform, /features and the Spotify
// Pixel processor and router transforms; everything else is proxied,
// unchanged. A nil *sidecar (no upstream) changes nothing: its wrappers
// return this service's handlers as they are.
type sidecar struct {
	up      *upstream.Upstream
	maxBody int64
	depth   int // the nesting limit of the bodies it reads
}

func newSidecar(d Deps) *sidecar {
	if d.Upstream == nil {
		return nil
	}
	return &sidecar{up: d.Upstream, maxBody: d.MaxBodyBytes, depth: d.maxJSONDepth()}
}

// upstreamRoutes are rudder-transformer's own routes (all proxied). In
// sidecar mode New declares them so that proxied requests are labelled with
// their pattern in metrics and logs; any other path is proxied too, labelled
// "other" (and "unmatched" in the access log).
func upstreamRoutes() []string {
	return []string{
		"/{version}/destinations/{destination}",
		"/{version}/destinations/{destination}/proxy",
		"/{version}/destinations/{destination}/proxyTest",
		"/{version}/sources/{source}",
		"/customTransform",
		"/transformation/*",
		"/transformationLibrary/*",
		"/extractLibs",
		"/deleteUsers",
	}
}

// processor dispatches POST /v0/destinations/{destination}: Spotify Pixel
// here, any other destination to the upstream.
func (s *sidecar) processor(own http.Handler) http.Handler {
	if s == nil {
		return own
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rudder.IsDestination(chi.URLParam(r, "destination")) {
			own.ServeHTTP(w, r)
			return
		}
		s.forward(w, r)
	})
}

// byDestType dispatches a request that names its destination inside the
// body (POST /routerTransform, /batch): it reads the body within the body
// limit, and sends it to own when its destType is Spotify Pixel, else to
// the upstream. Either way the handler gets the exact bytes the client sent.
func (s *sidecar) byDestType(own http.Handler) http.Handler {
	if s == nil {
		return own
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mine, err := s.destinedHere(r)
		if err != nil {
			w.Header().Set("apiVersion", rudder.APIVersion)
			writeError(w, r, err)
			return
		}
		t := ticketOf(r)
		if !mine {
			t.drop() // the upstream's now: bounded there, not by this service's limits
			s.forward(w, r)
			return
		}
		if err := t.admit(); err != nil {
			w.Header().Set("apiVersion", rudder.APIVersion)
			writeError(w, r, err)
			return
		}
		own.ServeHTTP(w, r)
	})
}

// proxy serves rudder-transformer's routes. A method other than POST on the
// Spotify Pixel processor path is still this service's: 405, never proxied.
func (s *sidecar) proxy(w http.ResponseWriter, r *http.Request) {
	if chi.URLParam(r, "version") == "v0" && rudder.IsDestination(chi.URLParam(r, "destination")) &&
		chi.RouteContext(r.Context()).RoutePattern() == "/{version}/destinations/{destination}" {
		writeError(w, r, errMethod(r))
		return
	}
	s.forward(w, r)
}

// notFound proxies every path this service does not know, except /metrics,
// which is this service's even when it is served on another listener.
func (s *sidecar) notFound(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/metrics" {
		writeError(w, r, errNotFound(r))
		return
	}
	s.forward(w, r)
}

// forward passes the request to the upstream, labelled by its route
// pattern; an error (over a limit, or no answer from the upstream) is
// answered through writeError, and the outcome is noted for the access log.
func (s *sidecar) forward(w http.ResponseWriter, r *http.Request) {
	route := "other"
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		route = rc.RoutePattern()
	}
	i := info(r)
	i.outcome = upstream.OutcomeAborted // kept when ServeProxy does not return: the answer was cut short
	i.outcome, _ = s.up.ServeProxy(w, r, route, writeError)
}

// destinedHere reads the request body and reports whether its destType
// names Spotify Pixel, leaving r.Body to replay the exact bytes. A body that
// cannot be read within the body limit, that is gzip beyond the limit or
// not valid gzip, that uses another encoding, or that has no destType
// string, is not provably this service's: it goes to the upstream (this
// service would have refused it anyway). A body it reads is refused here
// (whatever its destType) when it nests too deep, and when it is not JSON
// and names Spotify Pixel (see checkForDestType).
func (s *sidecar) destinedHere(r *http.Request) (bool, error) {
	limit := s.maxBody
	if limit <= 0 {
		limit = math.MaxInt64 - 1
	}
	if r.ContentLength > limit {
		return false, nil
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return false, bodyError(err, limit)
	}
	raw := buf.Bytes()
	if n > limit {
		// Replay what was read, then the rest, straight from the client.
		r.Body = readCloser{io.MultiReader(bytes.NewReader(raw), r.Body), r.Body}
		return false, nil
	}
	// A fresh buffer, not a pooled one: the proxy's transport may still read
	// the body after the handler has returned.
	r.Body = io.NopCloser(bytes.NewReader(raw))
	tmp := getBuf()
	defer putBuf(tmp)
	plain, ok := decoded(raw, contentEncoding(r), limit, tmp)
	if !ok {
		return false, nil
	}
	return checkForDestType(jsonscan.TrimBOM(plain), s.depth)
}

// checkForDestType reports whether the JSON text names Spotify Pixel as its
// destType, which gjson reads (rudder.DestTypeOf) only once it is safe to:
// the text is first checked by the engine's validator (jsonscan.Check, which
// never recurses), so that no gjson call sees text nesting deeper than
// limit. Text nesting too deep is refused with a 400, as the guard refused
// it before; so is text that is not JSON but names Spotify Pixel, with the
// error its handler would have given. Text that is not JSON, nests within
// the limit by the guard's lexical count and names another destination (or
// none) is the upstream's to refuse. The errors are worded as /transform's.
func checkForDestType(text []byte, limit int) (bool, error) {
	fault := jsonscan.CheckBytes(text, limit)
	if fault == nil {
		dt, ok := rudder.DestTypeOf(text)
		return ok && rudder.IsDestination(dt), nil
	}
	if !fault.TooDeep && (&jsonscan.Nesting{Max: limit}).Scan(text) < 0 {
		// Malformed, but within the limit as gjson counts: gjson may look.
		if dt, ok := rudder.DestTypeOf(text); !ok || !rudder.IsDestination(dt) {
			return false, nil
		}
	}
	// The same check again, for its error as /transform words it: only a
	// refused body pays for it.
	return false, pipeline.CheckBody(string(text), limit)
}

// decoded returns the body as JSON text: raw itself, or, when encoding (as
// contentEncoding gives it) is gzip, inflated into tmp within limit.
func decoded(raw []byte, encoding string, limit int64, tmp *bytes.Buffer) ([]byte, bool) {
	switch encoding {
	case "", "identity":
		return raw, true
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, false
		}
		n, err := tmp.ReadFrom(io.LimitReader(zr, limit+1))
		if err != nil || n > limit {
			return nil, false
		}
		return tmp.Bytes(), true
	}
	return nil, false
}

// readCloser joins a replaying reader to the original body's Close.
type readCloser struct {
	io.Reader
	io.Closer
}

// noBatch answers POST /batch for Spotify Pixel, which, as in
// rudder-transformer, has no batch transform.
func noBatch(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("apiVersion", rudder.APIVersion)
	writeError(w, r, apperr.New(apperr.NotFound, "%s does not implement batch", rudder.DestType))
}
