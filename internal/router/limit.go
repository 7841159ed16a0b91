package router

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"spotifypixel/internal/jsonscan"
)

// DefaultMaxJSONDepth is the deepest nesting of JSON arrays and objects a
// request body may have when Deps.MaxJSONDepth is 0: the engine's limit,
// defined once there.
const DefaultMaxJSONDepth = jsonscan.MaxDepth

// maxJSONDepth is the nesting limit of request bodies: Deps.MaxJSONDepth,
// or DefaultMaxJSONDepth when it is not set.
func (d Deps) maxJSONDepth() int {
	if d.MaxJSONDepth <= 0 {
		return DefaultMaxJSONDepth
	}
	return d.MaxJSONDepth
}

// limits are the protections of the routes that take a body (every method
// but GET and HEAD): a cap on concurrent requests, taken only once a body
// has arrived; a share of that cap for NDJSON streams, which hold theirs
// while their body arrives; a budget of body bytes held at once; a deadline
// per request; and a cap on JSON nesting. The operational routes (/health,
// /ready, /metrics, /features) are GETs and never wait behind them.
type limits struct {
	sem      chan struct{} // nil: no in-flight limit
	streams  chan struct{} // NDJSON streams' share of sem; nil with sem
	budget   *byteBudget   // nil: no body budget
	maxBody  int64
	rejected *prometheus.CounterVec // by reason; nil: not counted
	timeout  time.Duration          // 0: none
	depth    int
}

func newLimits(d Deps) *limits {
	l := &limits{timeout: d.RequestTimeout, depth: d.maxJSONDepth(),
		maxBody: d.MaxBodyBytes}
	if d.MaxInFlight > 0 {
		l.sem = make(chan struct{}, d.MaxInFlight)
		l.streams = make(chan struct{}, max(1, d.MaxInFlight/2))
	}
	if d.BodyBudget > 0 {
		l.budget = &byteBudget{max: d.BodyBudget}
	}
	if m := d.Metrics; m != nil {
		l.rejected = m.Rejected
		if l.budget != nil && m.BodyBudget != nil {
			m.BodyBudget.Set(float64(l.budget.max))
			l.budget.held = m.BodyBytesHeld
		}
	}
	return l
}

// count counts a request refused at the limit named by reason (metrics
// creates every reason's series up front).
func (l *limits) count(reason string) {
	if l.rejected != nil {
		l.rejected.WithLabelValues(reason).Inc()
	}
}

// bodyPolicy is how the limits treat one route's bodies: router.go gives
// each route that takes a body its own, so that no limit decides by the path.
type bodyPolicy struct {
	// streams: an NDJSON body is a stream, which takes its slot at its start,
	// from the streams' share, and renews its own deadlines.
	streams bool
	// admitLater: the handler admits the request once it knows the body is
	// this service's (the sidecar's byDestType, proxy.go), so that traffic
	// passed on to the upstream never waits for a slot here.
	admitLater bool
	// guard says whether the body's nesting is checked as it is read (nil:
	// never). A handler that checks its body with jsonscan.Check (strict
	// JSON and the nesting limit in one pass, without recursion) before
	// gjson reads it needs no guard, so that its bytes are not scanned
	// twice.
	guard func(*http.Request) bool
}

// transformBody is the policy of POST /transform: a JSON body is checked by
// the pipeline while it is transformed; an NDJSON stream is guarded, which
// cuts a line that nests too deep so that it alone fails.
var transformBody = bodyPolicy{streams: true, guard: isNDJSON}

// body returns the middleware that applies the limits to a route's bodies,
// in order: admission (the body budget up front for a known length; the
// slot now for a request without a body or an NDJSON stream, else once the
// body has arrived), deadline, nesting.
func (l *limits) body(p bodyPolicy) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			stream := p.streams && isNDJSON(r)
			t := &ticket{l: l}
			defer t.drop()
			if err := l.enter(r, t, stream, p.admitLater); err != nil {
				writeError(w, r, err)
				return
			}
			if stream && l.streams != nil {
				defer func() { <-l.streams }()
			}
			r = withTicket(r, t)
			if l.timeout > 0 && !stream {
				// NDJSON streams are exempt: they renew their own deadlines
				// per event line read and per flush (stream.go), so that
				// silence is bounded, not length.
				ctx, cancel := context.WithTimeout(r.Context(), l.timeout)
				defer cancel()
				_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(l.timeout))
				r = r.WithContext(ctx)
				if hasBody(r) {
					r.Body = &deadlineBody{ReadCloser: r.Body, timeout: l.timeout}
				}
			}
			if hasBody(r) && p.guard != nil && p.guard(r) {
				l.guardNesting(r)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// enter admits r as far as it can be before its body is read: a stream
// takes its share of the slots and a slot; a request without a body takes
// a slot; a body of known length takes its bytes from the budget (one
// longer than -max-body-bytes is left to its handler's 413), and any other
// is charged as it arrives. The body is wrapped to take the slot when it
// ends.
func (l *limits) enter(r *http.Request, t *ticket, stream, later bool) error {
	switch {
	case stream && l.sem != nil:
		select {
		case l.streams <- struct{}{}:
		default:
			return busy(l, "stream_limit", "the server is at its limit of %d concurrent NDJSON streams; retry later", cap(l.streams))
		}
		if err := t.admit(); err != nil {
			<-l.streams
			return err
		}
		return nil
	case !hasBody(r):
		return t.admit()
	case stream:
		return nil
	}
	prepaid := int64(0)
	if r.ContentLength > 0 && (l.maxBody <= 0 || r.ContentLength <= l.maxBody) {
		if err := t.charge(r.ContentLength); err != nil {
			return err
		}
		prepaid = r.ContentLength
	}
	r.Body = &heldBody{ReadCloser: r.Body, m: meter{t: t, charged: prepaid}, admitLater: later}
	return nil
}

func hasBody(r *http.Request) bool { return r.Body != nil && r.Body != http.NoBody }

// errBodyTimeout is why a body read failed when the request timeout passed
// first; writeError answers it with 408.
type errBodyTimeout struct{ timeout time.Duration }

// Error says the body came too slowly, naming the timeout.
func (e *errBodyTimeout) Error() string {
	return "the request body did not arrive within the request timeout of " + e.timeout.String()
}

// deadlineBody names the request timeout when a read hits the deadline.
type deadlineBody struct {
	io.ReadCloser
	timeout time.Duration
}

// Read passes the read on, naming the request timeout when the deadline cut it short.
func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = &errBodyTimeout{timeout: b.timeout}
	}
	return n, err
}

// errTooDeep is why a body read failed when the JSON nests too deep.
type errTooDeep struct{ max int }

// Error names the nesting limit the body went past.
func (e *errTooDeep) Error() string {
	return fmt.Sprintf("request body nests JSON arrays and objects deeper than %d levels", e.max)
}

// guardNesting wraps the body so that JSON nesting deeper than the limit
// never reaches a parser: gjson recurses once per level, and a 10 MB body of
// "[" would overflow the goroutine stack (a fatal error that no recover
// catches). A JSON body fails to read (400); an NDJSON line that goes too
// deep is cut at the limit, so it alone fails (as invalid JSON) and its
// neighbours are unaffected. Bodies are scanned as they arrive, never
// inflated: the routes that inflate gzip bodies, the RudderStack ones and
// /transform JSON, are exempt (their bodyPolicy has no guard) and check the
// inflated text themselves with jsonscan.Check.
func (l *limits) guardNesting(r *http.Request) {
	r.Body = &depthBody{ReadCloser: r.Body, s: depthScanner{n: jsonscan.Nesting{Max: l.depth}, lines: isNDJSON(r)}}
}

// depthScanner is the body's nesting guard: JSON nesting is counted by
// jsonscan.Nesting; for NDJSON every line starts afresh, and the rest of a
// line that goes too deep is dropped.
type depthScanner struct {
	n     jsonscan.Nesting
	lines bool // NDJSON: every line starts afresh
	cut   bool // NDJSON: this line went too deep; drop the rest of it
}

// filter scans p. For JSON it returns len(p), or an error once the nesting
// goes too deep. For NDJSON it removes the rest of every line that goes too
// deep (compacting p) and returns the length kept.
func (s *depthScanner) filter(p []byte) (int, error) {
	if !s.lines {
		if s.n.Scan(p) >= 0 {
			return 0, &errTooDeep{max: s.n.Max}
		}
		return len(p), nil
	}
	w := 0 // bytes kept; w < i only once a line was cut
	keep := func(from, to int) {
		if w != from {
			copy(p[w:], p[from:to])
		}
		w += to - from
	}
	for i := 0; i < len(p); {
		end := len(p)
		if nl := bytes.IndexByte(p[i:], '\n'); nl >= 0 {
			end = i + nl
		}
		if !s.cut {
			if at := s.n.Scan(p[i:end]); at >= 0 {
				keep(i, i+at)
				s.cut = true
			} else {
				keep(i, end)
			}
		}
		if end < len(p) {
			s.n.Reset()
			s.cut = false
			keep(end, end+1)
			end++
		}
		i = end
	}
	return w, nil
}

// depthBody runs a depthScanner over the body as the handler reads it.
type depthBody struct {
	io.ReadCloser
	s depthScanner
}

// Read passes on what the scanner keeps, and fails once the body nests too deep.
func (b *depthBody) Read(p []byte) (int, error) {
	for {
		n, err := b.ReadCloser.Read(p)
		kept, serr := b.s.filter(p[:n])
		if serr != nil {
			return kept, serr
		}
		if kept > 0 || err != nil || n == 0 {
			return kept, err
		}
		// A whole read fell in a line being cut: read on, so that a
		// reader never sees (0, nil).
	}
}
