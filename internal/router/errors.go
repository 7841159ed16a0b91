package router

import (
	"errors"
	"net/http"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/jsonscan"
)

// statusOf is the one place where error codes become HTTP statuses.
func statusOf(code apperr.Code) int {
	switch code {
	case apperr.BadRequest:
		return http.StatusBadRequest
	case apperr.InvalidConfig:
		return http.StatusUnprocessableEntity
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.TooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.Unsupported:
		return http.StatusUnsupportedMediaType
	case apperr.Unauthorized:
		return http.StatusUnauthorized
	case apperr.Unavailable:
		return http.StatusServiceUnavailable
	case apperr.MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case apperr.BadGateway:
		return http.StatusBadGateway
	case apperr.GatewayTimeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// writeError answers {"error": "..."} with the status of err's code; an
// error without a code is a 500 whose details stay in the logs.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := apperr.CodeOf(err)
	msg := err.Error()
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		msg = "internal error"
	}
	setError(r, err)
	switch code {
	case apperr.Unauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="transformer"`)
	case apperr.Unavailable:
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", "1") // at a limit: the same request may succeed
		}
	}
	status := statusOf(code)
	var slow *errBodyTimeout
	if errors.As(err, &slow) {
		status = http.StatusRequestTimeout // the body did not arrive in time (limit.go)
	}
	writeJSONError(w, status, msg)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	b := jsonscan.AppendString([]byte(`{"error":`), msg)
	w.Write(append(b, "}\n"...))
}

func errNotFound(r *http.Request) error {
	return apperr.Redacted(apperr.NotFound, "no route for "+r.Method+" (path not logged)", "no route for %s %s", r.Method, r.URL.Path)
}

func errMethod(r *http.Request) error {
	return apperr.New(apperr.MethodNotAllowed, "method %s is not allowed on %s", r.Method, r.URL.Path)
}
