package router

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// Baseline is the reference the load generator measures the service against:
// the same router, middleware (chain, shared with New), auth and
// body reading as POST /transform, but a handler that answers a canned
// response instead of running the engine. The ratio of the two is what the
// engine costs.
func Baseline(d Deps, response []byte) http.Handler {
	r := chi.NewRouter()
	r.Use(chain(d)...)
	r.Group(func(r chi.Router) {
		r.Use(newLimits(d).body(transformBody), bearerAuth(d.AuthToken))
		r.Post("/transform", func(w http.ResponseWriter, r *http.Request) {
			in, ok := readJSONBody(w, r, d.MaxBodyBytes)
			if !ok {
				return
			}
			defer putBuf(in)
			writeJSON(w, response)
		})
	})
	return r
}
