// Package router is the HTTP front of the service: every route is declared in
// this file; handlers stay thin and call the pipeline and the engine.
package router

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"spotifypixel/internal/destinations"
	"spotifypixel/internal/metrics"
	"spotifypixel/internal/pipeline"
	"spotifypixel/internal/rudder"
	"spotifypixel/internal/spotify"
	"spotifypixel/internal/tail"
	"spotifypixel/internal/upstream"
)

// Deps is everything the routes need; the caller owns their lifetimes.
type Deps struct {
	Store          *destinations.Store
	Metrics        *metrics.Metrics
	Logger         *zap.Logger
	Ready          *atomic.Bool
	MetricsHandler http.Handler // nil: /metrics is served elsewhere
	AuthToken      string       // empty: no auth
	MaxBodyBytes   int64
	MaxBatchEvents int
	BeaconURL      string
	StreamTimeout  time.Duration // NDJSON streams: longest wait for the next line or write; 0: 30s
	CAPIBatchSize  int           // most events per Conversions API envelope
	CAPIURL        string        // where Conversions API deliveries go (RudderStack front)
	// Upstream is the rudder-transformer this service is a sidecar of: every
	// request it does not own is proxied there (proxy.go). nil: none, and
	// unknown paths are 404.
	Upstream *upstream.Upstream
	// Limits of the routes that take a body (limit.go).
	MaxInFlight    int           // requests served at once, counted from the end of their body (NDJSON streams: at most half, from their start); beyond: 503 with Retry-After. 0: no limit
	BodyBudget     int64         // request body bytes (received and inflated) held at once by all requests; beyond: 503 with Retry-After. 0: no budget
	RequestTimeout time.Duration // a body must arrive within it (else 408); the handler's context ends at it. 0: none
	MaxJSONDepth   int           // deepest nesting of JSON arrays and objects in a body; 0: DefaultMaxJSONDepth
	// Runner runs /transform JSON bodies; nil: a pipeline.Runner. The load
	// tool's baseline puts a canned answer here, to measure everything but
	// the engine.
	Runner BatchRunner
	// Playground serves the playground page (playground.go) at /playground.
	Playground bool
	// Tail is the live tail (GET /debug/events, tail.go); nil: off.
	Tail *tail.Hub
}

// BatchRunner runs one /transform JSON body and appends its answer to dst:
// the pipeline in service, a stand-in where the engine's cost is left out.
type BatchRunner interface {
	Transform(dst []byte, set *destinations.Set, body []byte, q pipeline.Query) ([]byte, spotify.Summary, error)
}

// New returns the service's HTTP handler.
func New(d Deps) http.Handler {
	r := chi.NewRouter()
	r.Use(chain(d)...)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errNotFound(r))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errMethod(r))
	})

	r.Get("/health", health)
	r.Get("/ready", ready(d.Ready))
	r.Get("/openapi.yaml", openAPI)
	if d.MetricsHandler != nil {
		r.Method(http.MethodGet, "/metrics", d.MetricsHandler)
	}
	// RudderStack transformer compatibility (internal/rudder). /features is
	// an open capability document, polled by rudder-server like a health check.
	// In sidecar mode the transforms of other destinations are proxied
	// before auth: the upstream answers for them.
	//
	// Each route that takes a body gets the limits (limit.go) with its own
	// policy; the limits are shared, so that every route counts against one
	// in-flight cap and one body budget. GETs take none: the operational
	// routes never wait behind the work.
	rf := newRudderFront(d)
	sc := newSidecar(d)
	auth := bearerAuth(d.AuthToken)
	l := newLimits(d)
	r.Get("/features", rf.features)
	if d.Playground {
		mountPlayground(r, d, auth)
	}
	if d.Tail != nil {
		r.With(auth).Get("/debug/events", liveTail(d))
	}
	r.With(l.body(transformBody), auth).Post("/transform", transform(d))
	// The processor transform: the sidecar passes other destinations on
	// before any limit; rudder.Processor checks a Spotify Pixel body itself
	// (inflated when it is gzip), and any other is guarded.
	r.Method(http.MethodPost, "/v0/destinations/{destination}",
		sc.processor(l.body(bodyPolicy{guard: notSpotifyPixel})(auth(http.HandlerFunc(rf.processor)))))
	// /routerTransform and /batch name their destination inside the body:
	// rudder.Router checks it, and in sidecar mode byDestType checks it before
	// it reads its destType and admits it only once it is known to be ours.
	byBody := l.body(bodyPolicy{admitLater: sc != nil})
	r.Method(http.MethodPost, "/routerTransform", byBody(sc.byDestType(auth(http.HandlerFunc(rf.router)))))
	if sc != nil {
		// Sidecar mode: /batch is ours for Spotify Pixel (which has no batch
		// transform); rudder-transformer's routes are declared so that their
		// metrics carry the pattern; any other path is proxied too, unlimited
		// here: the upstream's own timeouts and cap bound it.
		r.Method(http.MethodPost, "/batch", byBody(sc.byDestType(http.HandlerFunc(noBatch))))
		for _, p := range upstreamRoutes() {
			r.HandleFunc(p, sc.proxy)
		}
		r.NotFound(sc.notFound)
	}
	return r
}

// chain is the middleware every route runs under, in order: request id,
// security headers, metrics and access log, panic recovery.
func chain(d Deps) []func(http.Handler) http.Handler {
	return []func(http.Handler) http.Handler{
		requestID, securityHeaders, instrument(d.Metrics, d.Logger), recoverer(d.Logger),
	}
}

// notSpotifyPixel reports whether a processor request names another
// destination than Spotify Pixel, whose body no handler here checks.
func notSpotifyPixel(r *http.Request) bool {
	return !rudder.IsDestination(chi.URLParam(r, "destination"))
}

// MetricsOnly is the handler of a separate metrics listener.
func MetricsOnly(h http.Handler) http.Handler {
	r := chi.NewRouter()
	r.Use(securityHeaders)
	r.Method(http.MethodGet, "/metrics", h)
	r.Get("/health", health)
	return r
}
