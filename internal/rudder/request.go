package rudder

import (
	"bytes"
	"math"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/pipeline"
	"spotifypixel/internal/spotify"
)

// item is one element of a request: an event (message), its metadata (echoed
// back untouched) and its destination.
type item struct {
	raw         string       // the element itself, for dynamic config paths
	message     gjson.Result // the RudderStack event
	metadata    gjson.Result // rudder-server's job metadata
	destination gjson.Result // {ID, Config, ...}; missing when the request names none
}

// parseRoot checks a request body with the engine's validator
// (pipeline.CheckBody: strict JSON, nesting at most limit levels, 0 meaning
// jsonscan.MaxDepth), which never recurses, before gjson reads it: the body
// is checked once, and its faults are worded as /transform words them. A
// leading byte order mark is ignored, as RFC 8259 allows.
func parseRoot(body []byte, limit int) (gjson.Result, error) {
	body = jsonscan.TrimBOM(body)
	if len(bytes.TrimSpace(body)) == 0 {
		return gjson.Result{}, apperr.New(apperr.BadRequest, "request body is empty")
	}
	if limit <= 0 {
		limit = jsonscan.MaxDepth
	}
	s := string(body) // the copy gjson's results refer into
	if err := pipeline.CheckBody(s, limit); err != nil {
		return gjson.Result{}, err
	}
	// A repeated key's last occurrence wins, metadata and destinations
	// included, as rudder-transformer's JSON.parse reads a body.
	return gjson.Parse(spotify.Canonical(s)), nil
}

// parseProcessor reads a processor request: a JSON array of {message,
// metadata, destination}, or, compacted, {"input": [{message, metadata}],
// "destinations": {id: destination}, "connections": {...}}.
func parseProcessor(body []byte, compacted bool, maxItems, depth int) ([]item, error) {
	root, err := parseRoot(body, depth)
	if err != nil {
		return nil, err
	}
	if !compacted {
		if !root.IsArray() {
			return nil, apperr.New(apperr.BadRequest, "request body must be a JSON array of {message, metadata, destination}")
		}
		return parseItems(root, nil, maxItems)
	}
	if !root.IsObject() {
		return nil, apperr.New(apperr.BadRequest, "a compacted request body must be a JSON object with input, destinations and connections")
	}
	input := root.Get("input")
	if !input.IsArray() {
		return nil, apperr.New(apperr.BadRequest, "input must be an array of {message, metadata}")
	}
	return parseItems(input, destinationMap(root.Get("destinations")), maxItems)
}

// parseRouter reads a router request: {"input": [...], "destType": "..."},
// compacted like the processor's. An input that is not an array, or an
// empty one, gives no items and no error: the reply says "Invalid event
// array", as rudder-transformer's does.
func parseRouter(body []byte, compacted bool, maxItems, depth int) ([]item, error) {
	root, err := parseRoot(body, depth)
	if err != nil {
		return nil, err
	}
	if !root.IsObject() {
		return nil, apperr.New(apperr.BadRequest, "request body must be a JSON object with input and destType")
	}
	dt := root.Get("destType")
	if dt.Type != gjson.String {
		return nil, apperr.New(apperr.BadRequest, "destType must be a string naming the destination (%s)", DestName)
	}
	if !IsDestination(dt.Str) {
		return nil, apperr.Redacted(apperr.NotFound, "Unknown destination: unknown", "Unknown destination: %s", dt.Str)
	}
	input := root.Get("input")
	if !input.IsArray() {
		return nil, nil
	}
	var dests map[string]gjson.Result
	if compacted {
		dests = destinationMap(root.Get("destinations"))
	}
	return parseItems(input, dests, maxItems)
}

// DestTypeOf returns the destType of a router or batch request body (plain
// or compacted), as parseRouter reads it: ok is false when the body has no
// top-level destType string. It does not validate the rest of the body; the
// sidecar uses it to decide which transformer a request is for. It reads
// the body with gjson, so the caller must first make sure that the body does
// not nest deeper than the limit (the sidecar checks it with jsonscan.Check).
func DestTypeOf(body []byte) (destType string, ok bool) {
	s := string(jsonscan.TrimBOM(body))
	if jsonscan.Check(s, math.MaxInt32) == nil { // JSON: a repeated destType's last occurrence wins
		s = spotify.Canonical(s)
	}
	v := gjson.Get(s, "destType")
	return v.Str, v.Type == gjson.String
}

// parseItems splits an array of elements into items. With dests (a
// compacted request) each element's destination is looked up by its
// metadata.destinationId; an id that names no destination fails the whole
// request with a 500, as rudder-transformer's does.
func parseItems(arr gjson.Result, dests map[string]gjson.Result, maxItems int) ([]item, error) {
	elems := arr.Array()
	if maxItems > 0 && len(elems) > maxItems {
		return nil, apperr.New(apperr.TooLarge, "request has %d events, more than the limit of %d", len(elems), maxItems)
	}
	items := make([]item, len(elems))
	for i, el := range elems {
		if !el.IsObject() {
			return nil, apperr.New(apperr.BadRequest, "element %d of the input must be an object {message, metadata, destination}", i)
		}
		it := &items[i]
		it.load(el, dests == nil)
		if dests == nil {
			continue
		}
		id, ok := idOf(it.metadata.Get("destinationId"))
		if !ok {
			continue // no id: the event fails with a configuration error
		}
		d, found := dests[id]
		if !found {
			return nil, apperr.New(apperr.Internal, "no destination found for id %s", id)
		}
		it.destination = d
	}
	return items, nil
}

// load fills the item from its element in one pass over its keys (the
// body is canonical: no key repeats).
func (it *item) load(el gjson.Result, withDestination bool) {
	it.raw = el.Raw
	el.ForEach(func(k, v gjson.Result) bool {
		switch {
		case k.Str == "message":
			it.message = v
		case k.Str == "metadata":
			it.metadata = v
		case k.Str == "destination" && withDestination:
			it.destination = v
		}
		return true
	})
}

// destinationMap indexes a compacted payload's destinations by id.
func destinationMap(v gjson.Result) map[string]gjson.Result {
	m := map[string]gjson.Result{}
	if !v.IsObject() {
		return m
	}
	v.ForEach(func(k, d gjson.Result) bool {
		m[k.Str] = d
		return true
	})
	return m
}

// idOf returns an id as text: a non-empty string as is, a number as its
// JSON text.
func idOf(v gjson.Result) (string, bool) {
	switch {
	case v.Type == gjson.String && v.Str != "":
		return v.Str, true
	case v.Type == gjson.Number:
		return v.Raw, true
	}
	return "", false
}
