// Package capi builds Spotify's Conversions API events and request bodies
// (docs/BEHAVIOUR.md §8) from what the engine's rules produced: each call's
// parameters and the event's identifying fields, handed over as raw JSON
// values, so that nothing here parses an event again.
package capi

import "spotifypixel/internal/jsonscan"

// DefaultBatchSize is the most events one Conversions API request body
// holds unless configured otherwise, defined once for every front.
const DefaultBatchSize = 500

// Events collects Conversions API events, in order, for the envelopes of a
// response; its memory is kept from request to request.
type Events struct {
	buf  []byte
	ends []int
}

// AppendAll appends every event, comma-separated.
func (c *Events) AppendAll(dst []byte) []byte {
	for i := range c.Len() {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, c.Event(i)...)
	}
	return dst
}

// Len is the number of events collected.
func (c *Events) Len() int { return len(c.ends) }

// Reset empties c, keeping its memory.
func (c *Events) Reset() { c.buf, c.ends = c.buf[:0], c.ends[:0] }

// Add appends one event's JSON object.
func (c *Events) Add(ev []byte) {
	c.buf = append(c.buf, ev...)
	c.ends = append(c.ends, len(c.buf))
}

// Truncate drops the events from the n-th on, when an event turns out to
// have none to send after some were added.
func (c *Events) Truncate(n int) {
	c.ends = c.ends[:n]
	if n == 0 {
		c.buf = c.buf[:0]
	} else {
		c.buf = c.buf[:c.ends[n-1]]
	}
}

// Event returns the i-th event's JSON object.
func (c *Events) Event(i int) []byte {
	start := 0
	if i > 0 {
		start = c.ends[i-1]
	}
	return c.buf[start:c.ends[i]]
}

// AppendEnvelopes appends a JSON array of request bodies
// {"conversion_events": {"capi_connection_id", "events"}}, at most batchSize
// events each (0: DefaultBatchSize), holding the events of parts in order.
func AppendEnvelopes(dst []byte, connectionID string, batchSize int, parts ...*Events) []byte {
	if batchSize <= 0 {
		batchSize = DefaultBatchSize
	}
	dst = append(dst, '[')
	n := 0
	for _, p := range parts {
		for i := range p.Len() {
			if n%batchSize == 0 {
				if n > 0 {
					dst = append(dst, "]}},"...)
				}
				dst = AppendEnvelopeHead(dst, connectionID)
			} else {
				dst = append(dst, ',')
			}
			dst = append(dst, p.Event(i)...)
			n++
		}
	}
	if n > 0 {
		dst = append(dst, "]}}"...)
	}
	return append(dst, ']')
}

// AppendEnvelopeHead opens an envelope up to its events array; the caller
// appends events and closes it with "]}}".
func AppendEnvelopeHead(dst []byte, connectionID string) []byte {
	dst = append(dst, `{"conversion_events":{"capi_connection_id":`...)
	dst = jsonscan.AppendString(dst, connectionID)
	return append(dst, `,"events":[`...)
}
