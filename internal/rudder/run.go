package rudder

import (
	"strconv"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"spotifypixel/internal/capi"
	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/spotify"
)

// The stages rudder-transformer names in statTags.feature.
const (
	featureProcessor = "processor"
	featureRouter    = "router"
)

// maxCached bounds the transformers one request keeps: a dynamic config that
// differs per event must not grow the cache without limit.
const maxCached = 1024

// transformRun is the state of one request: the engine instances per distinct
// destination config, and the summary for metrics and logs.
type transformRun struct {
	opts    Options
	feature string
	cache   map[string]*spotify.Transformer
	key     []byte
	headers []byte // the current event's delivery headers, as JSON
	userID  []byte // the current event's delivery userId, as JSON
	sum     spotify.Summary

	capi        capi.Events           // the current event's CAPI events (processor)
	capiBatches map[string]*capiBatch // router: CAPI events per destination
	capiOrder   []string              // router: destinations in first-seen order
}

func newRun(opts Options, feature string) *transformRun {
	return &transformRun{opts: opts, feature: feature, cache: map[string]*spotify.Transformer{}}
}

// decision is what the engine made of one item.
type decision struct {
	o           *spotify.Outcome
	tr          *spotify.Transformer
	destination string // the destination to echo (router): its Config resolved
}

// transformer returns the engine for a destination id and config, parsing
// the config once per distinct pair within the request.
func (r *transformRun) transformer(id, config string) *spotify.Transformer {
	r.key = append(append(append(r.key[:0], id...), 0), config...)
	if tr, ok := r.cache[string(r.key)]; ok {
		return tr
	}
	cfg, _ := spotify.ParseConfig([]byte(config)) // never nil; an error fails every event
	tr := spotify.NewTransformer(cfg, spotify.Options{Beacons: true, BeaconURL: r.opts.beaconURL(), Explain: r.opts.Explain})
	if len(r.cache) >= maxCached {
		clear(r.cache)
	}
	r.cache[string(r.key)] = tr
	return tr
}

// decide resolves the item's dynamic config and runs the engine on its
// message. The outcome is valid until the same transformer runs again.
func (r *transformRun) decide(it *item) decision {
	cfg := it.destination.Get("Config")
	config, message, changed := resolveConfig(it, cfg)
	id, _ := idOf(it.destination.Get("ID"))
	tr := r.transformer(id, config)
	o := tr.Transform(message)
	r.sum.Add(o)
	d := decision{o: o, tr: tr, destination: it.destination.Raw}
	if changed && it.destination.IsObject() {
		if s, err := sjson.SetRaw(it.destination.Raw, "Config", config); err == nil {
			d.destination = s
		}
	}
	return d
}

// appendProcessorItem appends the processor reply entries of one item: one
// {output, metadata, statusCode: 200} per beacon of a delivered event, else
// one {metadata, statusCode, error, statTags}.
func (r *transformRun) appendProcessorItem(dst []byte, it *item) []byte {
	d := r.decide(it)
	o := d.o
	if v := verdictOf(o); v.status != spotify.StatusOK {
		dst = comma(dst)
		dst = append(dst, '{')
		if it.metadata.Exists() {
			dst = append(dst, `"metadata":`...)
			dst = appendRaw(dst, it.metadata.Raw)
			dst = append(dst, ',')
		}
		dst = r.appendFailure(dst, v, it.metadata)
		dst = r.appendExplain(dst, d.tr)
		return append(dst, '}')
	}
	r.prepareDelivery(o.Event)
	for i := range o.Calls {
		if !o.Calls[i].Command.HasBeacon() {
			continue
		}
		dst = comma(dst)
		dst = append(dst, `{"output":`...)
		dst = r.appendOutput(dst, d.tr, o, i)
		if it.metadata.Exists() {
			dst = append(dst, `,"metadata":`...)
			dst = appendRaw(dst, it.metadata.Raw)
		}
		dst = append(dst, `,"statusCode":200`...)
		dst = r.appendExplain(dst, d.tr)
		dst = append(dst, '}')
	}
	return r.appendProcessorCAPI(dst, d.tr, it.metadata)
}

// appendRouterItem appends the router reply entry of one item: its
// delivery requests as batchedRequest (one object, or an array when the
// event yields several beacons), or its failure. A message that already
// carries a truthy statusCode was transformed before and passes through.
func (r *transformRun) appendRouterItem(dst []byte, it *item) []byte {
	dst = comma(dst)
	if truthy(it.message.Get("statusCode")) {
		dst = append(dst, `{"batchedRequest":`...)
		dst = appendRaw(dst, it.message.Raw)
		return r.appendRouterTail(dst, it, it.destination.Raw, nil)
	}
	d := r.decide(it)
	o := d.o
	v := verdictOf(o)
	if v.status != spotify.StatusOK {
		dst = append(dst, `{"metadata":[`...)
		dst = appendMetadata(dst, it.metadata)
		dst = append(dst, `],"batched":false,`...)
		dst = r.appendFailure(dst, v, it.metadata)
		if d.destination != "" {
			dst = append(dst, `,"destination":`...)
			dst = appendRaw(dst, d.destination)
		}
		dst = r.appendExplain(dst, d.tr)
		return append(dst, '}')
	}
	r.prepareDelivery(o.Event)
	dst = append(dst, `{"batchedRequest":`...)
	if v.beacons > 1 {
		dst = append(dst, '[')
	}
	n := 0
	for i := range o.Calls {
		if !o.Calls[i].Command.HasBeacon() {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = r.appendOutput(dst, d.tr, o, i)
	}
	if v.beacons > 1 {
		dst = append(dst, ']')
	}
	id, _ := idOf(it.destination.Get("ID"))
	r.collectRouterCAPI(d.tr, id, d.destination, it.metadata)
	return r.appendRouterTail(dst, it, d.destination, d.tr)
}

// appendExplain appends the entry's "explain" member when asked for; tr is
// the engine that decided it (nil: an entry that passed through undecided).
func (r *transformRun) appendExplain(dst []byte, tr *spotify.Transformer) []byte {
	if !r.opts.Explain || tr == nil {
		return dst
	}
	dst = append(dst, `,"explain":`...)
	return tr.AppendExplain(dst)
}

// appendRouterTail closes a successful router entry.
func (r *transformRun) appendRouterTail(dst []byte, it *item, destination string, tr *spotify.Transformer) []byte {
	dst = append(dst, `,"metadata":[`...)
	dst = appendMetadata(dst, it.metadata)
	dst = append(dst, `],"batched":false,"statusCode":200`...)
	if destination != "" {
		dst = append(dst, `,"destination":`...)
		dst = appendRaw(dst, destination)
	}
	dst = r.appendExplain(dst, tr)
	return append(dst, '}')
}

// verdict is how an event is reported.
type verdict struct {
	status    spotify.Status
	errorType string // for StatusError
	reason    string // for StatusFiltered and StatusError
	beacons   int    // delivery requests, for StatusOK
}

// noBeacon is the reason given for an ok outcome without any beacon, which
// the engine does not produce (an ok event has a conversion or a view);
// should it ever, the event is reported filtered rather than dropped.
const noBeacon = "no Spotify Pixel call to deliver"

// verdictOf reads the engine's outcome.
func verdictOf(o *spotify.Outcome) verdict {
	if o.Status != spotify.StatusOK {
		return verdict{status: o.Status, errorType: o.ErrorType, reason: o.Reason()}
	}
	v := verdict{status: spotify.StatusOK}
	for i := range o.Calls {
		if o.Calls[i].Command.HasBeacon() {
			v.beacons++
		}
	}
	if v.beacons == 0 {
		return verdict{status: spotify.StatusFiltered, reason: noBeacon}
	}
	return v
}

// appendFailure appends "statusCode", "error" and "statTags" of a filtered
// or failed event.
func (r *transformRun) appendFailure(dst []byte, v verdict, md gjson.Result) []byte {
	dst = append(dst, `"statusCode":`...)
	dst = strconv.AppendInt(dst, int64(v.status.Code()), 10)
	dst = append(dst, `,"error":`...)
	dst = jsonscan.AppendString(dst, v.reason)
	dst = append(dst, `,"statTags":`...)
	return r.appendStatTags(dst, v, md)
}

// appendMetadata appends a router entry's metadata element; a missing one
// is null, as JavaScript writes [undefined].
func appendMetadata(dst []byte, md gjson.Result) []byte {
	if !md.Exists() {
		return append(dst, "null"...)
	}
	return appendRaw(dst, md.Raw)
}

// comma separates array elements: it appends ',' unless dst ends an
// opening bracket.
func comma(dst []byte) []byte {
	if len(dst) > 0 && dst[len(dst)-1] != '[' {
		return append(dst, ',')
	}
	return dst
}

// truthy is JavaScript's truthiness of a JSON value.
func truthy(v gjson.Result) bool {
	switch v.Type {
	case gjson.True:
		return true
	case gjson.String:
		return v.Str != ""
	case gjson.Number:
		return v.Float() != 0
	case gjson.JSON:
		return true
	}
	return false
}
