// Package pipeline is the one path from a /transform request body to its
// response, shared by the HTTP service and the CLI: parse, resolve the
// destination, enforce limits, run the engine over the batch.
package pipeline

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/capi"
	"spotifypixel/internal/destinations"
	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/spotify"
)

// Query is what a request asks for besides its body.
type Query struct {
	DestinationID string // ?destination= or -destination; "" when not given
	Include       string // comma-separated outputs: "beacons", "capi"
	Explain       bool   // add each result's decision steps (?explain=1)
	MaxEvents     int    // 0 means no limit
	BeaconURL     string // base of beacons; empty means Spotify's
	CAPIBatchSize int    // most events per Conversions API envelope; 0: capi.DefaultBatchSize
	MaxDepth      int    // deepest nesting of JSON arrays and objects in the body; 0 means jsonscan.MaxDepth
}

// Options parses the include list into engine options.
func (q Query) Options() (spotify.Options, error) {
	opts := spotify.Options{BeaconURL: q.BeaconURL, Explain: q.Explain}
	for _, part := range strings.Split(q.Include, ",") {
		switch strings.TrimSpace(part) {
		case "":
		case "beacons":
			opts.Beacons = true
		case "capi":
			opts.CAPI = true
		default:
			return opts, apperr.New(apperr.BadRequest, "include: unknown output %q (supported: beacons, capi)", strings.TrimSpace(part))
		}
	}
	return opts, nil
}

// Resolve finds the destination a request names: an inline destination with
// a Config wins; else ?destination, else the inline destination's ID, looked
// up among the configured ones.
func Resolve(set *destinations.Set, req *Request, id string) (string, *spotify.Config, error) {
	if req.Inline && req.Config != "" && req.Config != "null" {
		cfg, err := spotify.ParseConfig([]byte(req.Config))
		if err != nil {
			return "", nil, apperr.New(apperr.InvalidConfig, "destination.Config: %s", err.Error())
		}
		if req.DestinationID != "" {
			id = req.DestinationID
		}
		return id, cfg, nil
	}
	if id == "" {
		id = req.DestinationID
	}
	if id == "" {
		return "", nil, apperr.New(apperr.BadRequest, "no destination: send destination.Config in the body or name a configured destination with ?destination=")
	}
	d, err := set.Get(id)
	if err != nil {
		return "", nil, err
	}
	return id, d.Config, nil
}

// A batch is split across cores from parallelBytes of batch text (about 256
// SDK events) and when it has at least parallelMin events; below that the
// fan-out costs more than it saves.
const (
	parallelBytes = 256 << 10
	parallelMin   = 256
)

// transformers, spanBufs and chunkBufs recycle per-request buffers.
var (
	transformers = sync.Pool{New: func() any { return spotify.NewTransformer(nil, spotify.Options{}) }}
	spanBufs     = sync.Pool{New: func() any { s := make([]jsonscan.Span, 0, 1024); return &s }}
	chunkBufs    = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}
)

// Runner runs /transform requests. It counts the requests it is running, so
// that a large batch is split across cores only when some are idle: under
// load, splitting adds work (a pass to find the events) and takes cores
// from other requests, which is slower overall. The zero Runner is ready;
// a server shares one between all its requests.
type Runner struct {
	busy atomic.Int64
}

// Transform runs a whole /transform request and appends its response to dst.
// The body is read once in the usual case: ParseOnePass guesses where the
// batch ends and the engine checks it while transforming; when the guess
// fails (a malformed body, or members after the batch), the output is
// dropped and the request runs again on an exactly parsed body, so that
// every error is the one a full check first would give.
func (r *Runner) Transform(dst []byte, set *destinations.Set, body []byte, q Query) ([]byte, spotify.Summary, error) {
	opts, err := q.Options()
	if err != nil {
		return dst, spotify.Summary{}, err
	}
	req, err := ParseOnePass(body, q.MaxDepth)
	if err != nil {
		return dst, spotify.Summary{}, err
	}
	r.busy.Add(1)
	defer r.busy.Add(-1)
	if out, sum, err, ok := r.transformRequest(dst, set, &req, q, opts); ok {
		return out, sum, err
	}
	if req, err = ParseChecked(body, q.MaxDepth); err != nil {
		return dst, spotify.Summary{}, err
	}
	out, sum, err, ok := r.transformRequest(dst, set, &req, q, opts)
	if !ok && err == nil { // a checked body cannot fail its walk
		err = apperr.New(apperr.BadRequest, "request body is not valid JSON")
	}
	return out, sum, err
}

// transformRequest answers req; it reports false, with nothing appended,
// when a guessed request (not Checked) runs into any trouble, for Transform
// to start again on the exact parse.
func (r *Runner) transformRequest(dst []byte, set *destinations.Set, req *Request, q Query, opts spotify.Options) ([]byte, spotify.Summary, error, bool) {
	var sum spotify.Summary
	id, cfg, err := Resolve(set, req, q.DestinationID)
	if err == nil {
		err = CheckCAPI(cfg, opts)
	}
	if err != nil {
		return dst, sum, err, req.Checked
	}
	start := len(dst)
	dst = spotify.AppendResponseHead(dst, id, cfg)
	if !r.parallel(req) {
		// One pass: check, transform and count at once; in trouble, drop the output.
		t := getTransformer(cfg, opts)
		defer putTransformer(t)
		events := collectCAPI(t, opts)
		s, want := req.text()
		out, end, within := t.AppendEvents(dst, s, req.EventLimit(), q.MaxEvents, &sum)
		switch {
		case within && end == want:
			out = appendTail(out, &sum, cfg, q, events)
			return out, sum, nil, true
		case !req.Checked:
			// The guess was wrong (or the body is malformed): start again.
			return dst[:start], spotify.Summary{}, nil, false
		}
		return dst[:start], spotify.Summary{}, tooMany(jsonscan.CountElements(req.Batch.Raw), q.MaxEvents), true
	}
	sp := spanBufs.Get().(*[]jsonscan.Span)
	defer spanBufs.Put(sp)
	spans, ok := req.spans((*sp)[:0])
	*sp = spans
	if !ok {
		return dst[:start], spotify.Summary{}, nil, false
	}
	if q.MaxEvents > 0 && len(spans) > q.MaxEvents {
		// Spans are found without checking the events: a guessed body is
		// checked whole (the exact run) before it is called too large.
		return dst[:start], spotify.Summary{}, tooMany(len(spans), q.MaxEvents), req.Checked
	}
	out, events, ok := appendResults(dst, cfg, opts, req, spans, &sum)
	if !ok {
		return dst[:start], spotify.Summary{}, nil, false
	}
	out = appendTail(out, &sum, cfg, q, events...)
	return out, sum, nil, true
}

// parallel reports whether req's batch is worth splitting across cores now.
func (r *Runner) parallel(req *Request) bool {
	procs := runtime.GOMAXPROCS(0)
	return len(req.Batch.Raw) >= parallelBytes && procs >= 2 && r.busy.Load() <= int64(procs/2)
}

// getTransformer takes a pooled Transformer and points it at cfg and opts.
func getTransformer(cfg *spotify.Config, opts spotify.Options) *spotify.Transformer {
	t := transformers.Get().(*spotify.Transformer)
	t.Reset(cfg, opts)
	return t
}

// putTransformer pools t again, without the request's text and config.
func putTransformer(t *spotify.Transformer) {
	t.Forget()
	transformers.Put(t)
}

// CheckCAPI refuses include=capi for a destination without CAPI keys.
func CheckCAPI(cfg *spotify.Config, opts spotify.Options) error {
	if _, _, ok := cfg.CAPI(); opts.CAPI && !ok && cfg.Err() == nil {
		return apperr.New(apperr.InvalidConfig, "include=capi needs capiConnectionId (and capiAccessToken) in the destination config")
	}
	return nil
}

// collectCAPI points t at a fresh collection of CAPI events when asked.
func collectCAPI(t *spotify.Transformer, opts spotify.Options) *capi.Events {
	if !opts.CAPI {
		return nil
	}
	all := &capi.Events{}
	t.CollectCAPI(all)
	return all
}

// appendTail closes the response, with the CAPI envelopes when collected.
func appendTail(dst []byte, sum *spotify.Summary, cfg *spotify.Config, q Query, events ...*capi.Events) []byte {
	connID, _, ok := cfg.CAPI()
	if len(events) == 0 || events[0] == nil || !ok {
		return spotify.AppendResponseTail(dst, sum)
	}
	return spotify.AppendResponseTailCAPI(dst, sum, connID, q.CAPIBatchSize, events...)
}

func tooMany(n, limit int) error {
	return apperr.New(apperr.TooLarge, "batch has %d events, more than the limit of %d", n, limit)
}

// appendResults transforms the batch, splitting a large one into one chunk
// per core (errgroup fan-out), each with its own Transformer and buffer, and
// joins the chunks in order. It reports false when an event is malformed.
func appendResults(dst []byte, cfg *spotify.Config, opts spotify.Options, req *Request, spans []jsonscan.Span, sum *spotify.Summary) ([]byte, []*capi.Events, bool) {
	raw, limit := req.Batch.Raw, req.EventLimit()
	chunks := min(runtime.GOMAXPROCS(0), len(spans)/(parallelMin/2))
	if len(spans) < parallelMin || chunks < 2 {
		t := getTransformer(cfg, opts)
		defer putTransformer(t)
		events := collectCAPI(t, opts)
		out, ok := t.AppendSpanResults(dst, raw, spans, 0, limit, sum)
		return out, []*capi.Events{events}, ok
	}
	outs := make([]*[]byte, chunks)
	sums := make([]spotify.Summary, chunks)
	capis := make([]*capi.Events, chunks)
	var g errgroup.Group
	per := (len(spans) + chunks - 1) / chunks
	for c := range chunks {
		lo, hi := c*per, min((c+1)*per, len(spans))
		outs[c] = chunkBufs.Get().(*[]byte)
		g.Go(func() error {
			t := getTransformer(cfg, opts)
			defer putTransformer(t)
			capis[c] = collectCAPI(t, opts)
			var ok bool
			if *outs[c], ok = t.AppendSpanResults((*outs[c])[:0], raw, spans[lo:hi], lo, limit, &sums[c]); !ok {
				return errMalformed
			}
			return nil
		})
	}
	ok := g.Wait() == nil
	for c := range chunks {
		if ok {
			if c > 0 && len(*outs[c]) > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, *outs[c]...)
			sum.Merge(&sums[c])
		}
		if cap(*outs[c]) <= 4<<20 {
			chunkBufs.Put(outs[c])
		}
	}
	return dst, capis, ok
}

// errMalformed stops a chunk whose events are not well-formed JSON.
var errMalformed = errors.New("malformed event")
