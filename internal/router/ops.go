package router

import (
	"net/http"
	"sync/atomic"

	"spotifypixel/api"
)

// health answers 200 while the process serves: liveness only.
func health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte("{\"status\":\"ok\"}\n"))
}

// ready answers 200 once the config is loaded and 503 while draining.
func ready(flag *atomic.Bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if flag == nil || !flag.Load() {
			writeJSONError(w, http.StatusServiceUnavailable, "not ready")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{\"status\":\"ready\"}\n"))
	}
}

// openAPI serves the embedded OpenAPI document, so that clients and tools
// read the contract of the very build they talk to.
func openAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(api.OpenAPI())
}
