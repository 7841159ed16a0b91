package router

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/metrics"
)

// TestRecovererTurnsPanicIntoJSON500 runs the real middleware chain around a
// handler that panics.
func TestRecovererTurnsPanicIntoJSON500(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	log := zap.New(core)
	m := metrics.New(prometheus.NewRegistry())
	h := requestID(instrument(m, log)(recoverer(log)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	}))))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/transform", http.NoBody))
	if rec.Code != 500 {
		t.Fatalf("status %d", rec.Code)
	}
	var body struct{ Error string }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != "internal error" {
		t.Errorf("body %s", rec.Body)
	}
	if logs.FilterMessage("panic serving request").Len() != 1 {
		t.Error("panic not logged")
	}
	if got := testutil.ToFloat64(m.Requests.WithLabelValues("unmatched", "POST", "500")); got != 1 {
		t.Errorf("500 counted %v times", got)
	}
}

func TestStatusMapping(t *testing.T) {
	want := map[apperr.Code]int{
		apperr.BadRequest: 400, apperr.Unauthorized: 401, apperr.NotFound: 404,
		apperr.MethodNotAllowed: 405, apperr.TooLarge: 413, apperr.Unsupported: 415,
		apperr.InvalidConfig: 422, apperr.Internal: 500, apperr.Unavailable: 503,
	}
	for code, status := range want {
		if got := statusOf(code); got != status {
			t.Errorf("%s → %d, want %d", code, got, status)
		}
	}
}

func TestRequestIDValidation(t *testing.T) {
	var seen string
	h := requestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = info(r).id }))
	for in, keep := range map[string]bool{"abc": true, "": false, "bad\nline": false, strings.Repeat("x", 129): false} {
		req := httptest.NewRequest(http.MethodGet, "/", http.NoBody)
		req.Header.Set(RequestIDHeader, in)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		out := rec.Header().Get(RequestIDHeader)
		if (out == in) != keep || out != seen || out == "" {
			t.Errorf("%q → %q (seen %q), keep=%v", in, out, seen, keep)
		}
	}
}

func TestReadyFlag(t *testing.T) {
	var flag atomic.Bool
	h := ready(&flag)
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodGet, "/ready", http.NoBody))
	if rec.Code != 503 {
		t.Errorf("not ready: %d", rec.Code)
	}
	flag.Store(true)
	rec = httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodGet, "/ready", http.NoBody))
	if rec.Code != 200 || !bytes.Contains(rec.Body.Bytes(), []byte("ready")) {
		t.Errorf("ready: %d %s", rec.Code, rec.Body)
	}
}
