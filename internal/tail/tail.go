// Package tail is the live tail (GET /debug/events): a few subscribers each
// watch one destination's results as they are made, sampled at a bounded
// rate, so that an operator sees why events do (not) become calls without
// a log search. Publishing never blocks a request: a subscriber that falls
// behind, or is over its rate, misses results, it never slows anyone.
package tail

import (
	"errors"
	"sync"
	"sync/atomic"

	"golang.org/x/time/rate"
)

// ErrFull is why a subscription was refused: the hub has its most
// subscribers.
var ErrFull = errors.New("the live tail has its most subscribers")

// Hub fans results out to the subscribers of each destination.
type Hub struct {
	max   int
	rate  rate.Limit
	mu    sync.Mutex
	subs  map[*Sub]struct{}
	count atomic.Int32 // len(subs), read without the lock on every request
}

// Sub is one subscriber: the results of one destination, sampled.
type Sub struct {
	destination string
	limit       *rate.Limiter
	ch          chan []byte
}

// New returns a hub for at most most subscribers, each sent at most perSecond
// results a second.
func New(most int, perSecond float64) *Hub {
	return &Hub{max: most, rate: rate.Limit(perSecond), subs: map[*Sub]struct{}{}}
}

// Subscribe adds a subscriber of destination; Unsubscribe must follow.
func (h *Hub) Subscribe(destination string) (*Sub, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) >= h.max {
		return nil, ErrFull
	}
	burst := max(1, int(h.rate))
	s := &Sub{destination: destination, limit: rate.NewLimiter(h.rate, burst), ch: make(chan []byte, 2*burst)}
	h.subs[s] = struct{}{}
	h.count.Store(int32(len(h.subs)))
	return s, nil
}

// Unsubscribe removes s.
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
	h.count.Store(int32(len(h.subs)))
}

// Results is where s's sampled results arrive, each one JSON object.
func (s *Sub) Results() <-chan []byte { return s.ch }

// Watching reports whether anyone subscribes to destination; a request
// checks it before it builds anything to publish, so that the tail costs
// nothing while nobody watches.
func (h *Hub) Watching(destination string) bool {
	if h == nil || h.count.Load() == 0 {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.destination == destination {
			return true
		}
	}
	return false
}

// Publish offers results to destination's subscribers: each takes those
// its rate allows and its buffer holds, and misses the rest. build makes
// result i only when some subscriber takes it.
func (h *Hub) Publish(destination string, n int, build func(i int) []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.destination != destination {
			continue
		}
		for i := 0; i < n && s.limit.Allow(); i++ {
			select {
			case s.ch <- build(i):
			default: // behind: this result is missed
			}
		}
	}
}
