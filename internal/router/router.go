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
	rf := newRudderFront(d)
	sc := newSidecar(d)
	auth := bearerAuth(d.AuthToken)
	r.Get("/features", rf.features)
	r.With(auth).Post("/transform", transform(d))
	r.Method(http.MethodPost, "/v0/destinations/{destination}", sc.processor(auth(http.HandlerFunc(rf.processor))))
	r.Method(http.MethodPost, "/routerTransform", sc.byDestType(auth(http.HandlerFunc(rf.router))))
	if sc != nil {
		// Sidecar mode: /batch is ours for Spotify Pixel (which has no batch
		// transform); rudder-transformer's routes are declared so that their
		// metrics carry the pattern; any other path is proxied too.
		r.Method(http.MethodPost, "/batch", sc.byDestType(http.HandlerFunc(noBatch)))
		for _, p := range upstreamRoutes() {
			r.HandleFunc(p, sc.proxy)
		}
		r.NotFound(sc.notFound)
	}
	return r
}

// chain is the middleware every route runs under, in order: request id,
// security headers, metrics and access log, panic recovery, then the limits
// of routes that take a body. Baseline runs the same chain.
func chain(d Deps) []func(http.Handler) http.Handler {
	return []func(http.Handler) http.Handler{
		requestID, securityHeaders, instrument(d.Metrics, d.Logger), recoverer(d.Logger), newLimits(d).middleware,
	}
}

// MetricsOnly is the handler of a separate metrics listener.
func MetricsOnly(h http.Handler) http.Handler {
	r := chi.NewRouter()
	r.Use(securityHeaders)
	r.Method(http.MethodGet, "/metrics", h)
	r.Get("/health", health)
	return r
}
