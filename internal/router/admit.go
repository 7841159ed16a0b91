package router

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"spotifypixel/internal/apperr"
)

// budgetStep is how much of the body budget a body of unknown length
// (chunked, or inflated from gzip) takes at a time as it is read.
const budgetStep = 64 << 10

// byteBudget bounds the request bytes all requests hold at once
// (docs/BEHAVIOUR.md §7: limits), so that memory follows the deployment's
// GOMEMLIMIT rather than -max-inflight × -max-body-bytes.
type byteBudget struct {
	max  int64
	used atomic.Int64
	held prometheus.Gauge // nil: not shown
}

// take reserves n bytes and reports whether they were free.
func (b *byteBudget) take(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			if b.held != nil {
				b.held.Add(float64(n))
			}
			return true
		}
	}
}

// give returns n bytes taken before.
func (b *byteBudget) give(n int64) {
	b.used.Add(-n)
	if b.held != nil {
		b.held.Sub(float64(n))
	}
}

// busy is why a request was refused before it was served: the server was
// at one of its limits, counted by reason. It is a 503 with Retry-After
// (errors.go), since the same request may succeed later.
func busy(l *limits, reason, format string, args ...any) error {
	l.count(reason)
	return apperr.New(apperr.Unavailable, format, args...)
}

// ticket is one request's hold on the limits: the bytes of the body budget
// it took and whether it holds an in-flight slot. A request takes its slot
// only once its body has arrived, so that clients that send slowly never
// hold the slots that fast ones need. The mutex guards against a body read
// after the handler returned (a proxied body the transport still reads).
type ticket struct {
	l       *limits
	mu      sync.Mutex
	charged int64 // bytes taken from the budget
	slot    bool
	dropped bool // handed to the upstream, or ended: holds nothing any more
}

type ticketKey struct{}

// ticketOf is the ticket of r, or nil when r is not under the limits.
func ticketOf(r *http.Request) *ticket {
	t, _ := r.Context().Value(ticketKey{}).(*ticket)
	return t
}

// withTicket gives r a ticket.
func withTicket(r *http.Request, t *ticket) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), ticketKey{}, t))
}

// charge takes n more bytes from the budget.
func (t *ticket) charge(n int64) error {
	if t == nil || t.l.budget == nil || n <= 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dropped {
		return nil
	}
	if !t.l.budget.take(n) {
		return busy(t.l, "body_budget", "the server holds its limit of %d bytes of request bodies; retry later", t.l.budget.max)
	}
	t.charged += n
	return nil
}

// admit takes an in-flight slot.
func (t *ticket) admit() error {
	if t == nil || t.l.sem == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.slot || t.dropped {
		return nil
	}
	select {
	case t.l.sem <- struct{}{}:
		t.slot = true
		return nil
	default:
		return busy(t.l, "in_flight_limit", "the server is at its limit of %d concurrent requests; retry later", cap(t.l.sem))
	}
}

// drop gives back everything the ticket holds: the request leaves this
// service's limits (it is passed to the upstream, bounded there) or ends.
func (t *ticket) drop() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dropped {
		return
	}
	t.dropped = true
	if t.slot {
		<-t.l.sem
		t.slot = false
	}
	if t.charged > 0 {
		t.l.budget.give(t.charged)
		t.charged = 0
	}
}

// meter charges bytes to a ticket as they are read, ahead of the bytes in
// steps of budgetStep, but never beyond the body limit (more is a 413).
type meter struct {
	t             *ticket
	read, charged int64
}

// add accounts for n more bytes read.
func (m *meter) add(n int) error {
	m.read += int64(n)
	if m.read <= m.charged {
		return nil
	}
	step := m.read - m.charged
	ahead := int64(budgetStep)
	if limit := m.t.l.maxBody; limit > 0 {
		ahead = min(ahead, limit-m.charged)
	}
	step = max(step, ahead)
	if err := m.t.charge(step); err != nil {
		return err
	}
	m.charged += step
	return nil
}

// heldBody charges the body's bytes to the budget as they arrive (beyond
// what a Content-Length took up front) and takes the in-flight slot when
// the body ends.
type heldBody struct {
	io.ReadCloser
	m          meter
	admitLater bool // the handler admits the request itself (byDestType)
}

// Read passes the read on; past the budget, or without a free slot at the
// end of the body, it fails with a 503 error.
func (b *heldBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if gerr := b.m.add(n); gerr != nil {
		return n, gerr
	}
	if errors.Is(err, io.EOF) && !b.admitLater {
		if aerr := b.m.t.admit(); aerr != nil {
			return n, aerr
		}
	}
	return n, err
}

// chargedReader charges what it reads to the request's ticket: the
// inflated bytes of a gzip body, which a handler holds besides the
// compressed ones.
type chargedReader struct {
	r io.Reader
	m meter
}

// charged wraps r so that its bytes count against req's budget.
func charged(req *http.Request, r io.Reader) io.Reader {
	t := ticketOf(req)
	if t == nil || t.l.budget == nil {
		return r
	}
	return &chargedReader{r: r, m: meter{t: t}}
}

// Read passes the read on, failing with a 503 error past the budget.
func (c *chargedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if cerr := c.m.add(n); cerr != nil {
		return n, cerr
	}
	return n, err
}
