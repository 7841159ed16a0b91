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
}

// New returns the service's HTTP handler.
func New(d Deps) http.Handler {
	r := chi.NewRouter()
	r.Use(requestID, instrument(d.Metrics, d.Logger), recoverer(d.Logger))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errNotFound(r))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errMethod(r))
	})

	r.Get("/health", health)
	r.Get("/ready", ready(d.Ready))
	if d.MetricsHandler != nil {
		r.Method(http.MethodGet, "/metrics", d.MetricsHandler)
	}
	// RudderStack transformer compatibility (internal/rudder). /features is
	// an open capability document, polled by rudder-server like a health check.
	rf := newRudderFront(d)
	r.Get("/features", rf.features)
	r.Group(func(r chi.Router) {
		r.Use(bearerAuth(d.AuthToken))
		r.Post("/transform", transform(d))
		r.Post("/v0/destinations/{destination}", rf.processor)
		r.Post("/routerTransform", rf.router)
	})
	return r
}

// MetricsOnly is the handler of a separate metrics listener.
func MetricsOnly(h http.Handler) http.Handler {
	r := chi.NewRouter()
	r.Method(http.MethodGet, "/metrics", h)
	r.Get("/health", health)
	return r
}
