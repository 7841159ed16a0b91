package router

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/destinations"
	"spotifypixel/internal/metrics"
	"spotifypixel/internal/spotify"
)

// RequestIDHeader carries the request id in and out.
const RequestIDHeader = "X-Request-Id"

type ctxKey struct{}

// reqInfo is what a request's handlers tell the access log.
type reqInfo struct {
	id          string
	err         string
	destination string // a configured destination id, or "unknown"; "" when none was named
	summary     *spotify.Summary
	outcome     string // sidecar: how a passed-on request ended (upstream.Outcome*); "" when not passed on
}

func info(r *http.Request) *reqInfo {
	if i, ok := r.Context().Value(ctxKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

// noteDestination records, for the access log, the destination id a request
// named: the id itself only when it is configured, else "unknown", so that
// whatever a caller types there (an email, a token) never reaches a log.
func noteDestination(r *http.Request, set *destinations.Set, id string) {
	if id == "" {
		return
	}
	i := info(r)
	if _, err := set.Get(id); err == nil {
		i.destination = id
	} else {
		i.destination = "unknown"
	}
}

// setError keeps err's log text (never the caller-supplied ids some
// messages quote) for the access log.
func setError(r *http.Request, err error) { info(r).err = apperr.LogText(err) }

// requestID honours a sane incoming X-Request-Id, else makes one, and echoes it.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			var b [16]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set(RequestIDHeader, id)
		ctx := context.WithValue(r.Context(), ctxKey{}, &reqInfo{id: id})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// securityHeaders marks every response as not to be content-sniffed, so
// that no browser ever renders an answer (which may echo request text) as
// anything but the type it is declared with.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// validRequestID accepts 1–128 printable ASCII characters, so that a hostile
// header cannot forge log lines.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// recoverer turns a panic into a logged 500 JSON error instead of a dead connection.
func recoverer(log *zap.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				rec := recover()
				if rec == nil {
					return
				}
				if rec == http.ErrAbortHandler {
					panic(rec)
				}
				log.Error("panic serving request",
					zap.String("request_id", info(r).id),
					zap.Any("panic", rec),
					zap.ByteString("stack", debug.Stack()))
				writeError(w, r, apperr.New(apperr.Internal, "internal error"))
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// instrument counts, times and logs every request, labelling by route
// pattern (never the raw path) once the router has matched it.
func instrument(m *metrics.Metrics, log *zap.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			m.InFlight.Inc()
			defer m.InFlight.Dec()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			// Counting and logging run in a defer so that a request that
			// ends in a panic (http.ErrAbortHandler when an upstream dies
			// mid-body or the client goes away) is still counted and
			// logged exactly once; the panic then goes on to net/http.
			defer func() {
				rec := recover()
				status := ww.Status()
				if status == 0 {
					status = http.StatusOK
				}
				route := "unmatched"
				if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
					route = rc.RoutePattern()
				}
				elapsed := time.Since(start)
				m.Requests.WithLabelValues(route, r.Method, strconv.Itoa(status)).Inc()
				m.Duration.WithLabelValues(route).Observe(elapsed.Seconds())
				logRequest(log, r, route, status, ww.BytesWritten(), elapsed, rec != nil)
				if rec != nil {
					panic(rec)
				}
			}()
			next.ServeHTTP(ww, r)
		})
	}
}

func logRequest(log *zap.Logger, r *http.Request, route string, status, bytes int, elapsed time.Duration, aborted bool) {
	i := info(r)
	fields := make([]zap.Field, 0, 12)
	fields = append(fields,
		zap.String("request_id", i.id),
		zap.String("method", r.Method),
		zap.String("route", route),
		zap.Int("status", status),
		zap.Int("bytes", bytes),
		zap.Duration("duration", elapsed))
	if s := i.summary; s != nil {
		fields = append(fields, zap.Int("events", s.Events), zap.Int("ok", s.OK),
			zap.Int("filtered", s.Filtered), zap.Int("failed", s.Failed), zap.Int("calls", s.Calls))
	}
	if i.destination != "" {
		fields = append(fields, zap.String("destination", i.destination))
	}
	if i.outcome != "" {
		fields = append(fields, zap.String("outcome", i.outcome))
	}
	if i.err != "" {
		fields = append(fields, zap.String("error", i.err))
	}
	if aborted {
		fields = append(fields, zap.Bool("aborted", true))
	}
	switch {
	case aborted:
		log.Warn("request", fields...) // cut short mid-response: the client saw a broken body
	case status == http.StatusServiceUnavailable:
		log.Warn("request", fields...) // over the in-flight limit, or draining: expected, not a bug
	case status >= 500:
		log.Error("request", fields...)
	case route == "/health" || route == "/ready" || route == "/metrics" || route == "/features":
		log.Debug("request", fields...)
	default:
		log.Info("request", fields...)
	}
}

// bearerAuth requires "Authorization: Bearer <token>" when token is set.
// The scheme is matched case-insensitively and may be followed by several
// spaces (RFC 7235: auth-scheme 1*SP credentials); the token is compared in
// constant time, both sides hashed first, so that neither its bytes nor its
// length shows in the time a refusal takes.
func bearerAuth(token string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if token == "" {
			return next
		}
		want := sha256.Sum256([]byte(token))
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			got := sha256.Sum256([]byte(strings.TrimLeft(cred, " ")))
			ok := subtle.ConstantTimeCompare(got[:], want[:]) == 1
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				writeError(w, r, apperr.New(apperr.Unauthorized, "missing or wrong bearer token in the Authorization header"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// undeliveredSample is how many "event not delivered" lines are logged per
// second; the rest are dropped, so that a flood of bad events cannot flood
// the log.
const undeliveredSample = 5

// undeliveredLogger is log with zap's sampler: per second, the first
// undeliveredSample lines of each message and level, none after; nil when
// log is not at debug level, so that no answer is read for lines nobody
// writes.
func undeliveredLogger(log *zap.Logger) *zap.Logger {
	if !log.Core().Enabled(zapcore.DebugLevel) {
		return nil
	}
	return log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, time.Second, undeliveredSample, 0)
	}))
}

// logUndelivered writes, at debug level, one line per filtered or failed
// result (a JSON result of docs/BEHAVIOUR.md §5): the request id, the
// destination label, the index, status, error type and reason, which the
// engine words without user ids, emails or addresses; nothing of the event.
func logUndelivered(log *zap.Logger, r *http.Request, res gjson.Result) {
	status := res.Get("status").Str
	if status == "ok" || status == "" {
		return
	}
	fields := []zap.Field{zap.String("request_id", info(r).id), zap.String("destination", metricDestination(r)),
		zap.Int64("index", res.Get("index").Int()), zap.String("status", status), zap.String("reason", res.Get("reason").Str)}
	if et := res.Get("errorType"); et.Exists() {
		fields = append(fields, zap.String("error_type", et.Str))
	}
	log.Debug("event not delivered", fields...)
}
