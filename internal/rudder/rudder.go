// Package rudder speaks rudder-transformer's destination protocol for the
// Spotify Pixel destination (docs/BEHAVIOUR.md §7, "RudderStack transformer
// compatibility"), so that rudder-server can use this service as its
// transformer: the processor transform (POST /v0/destinations/spotify_pixel),
// the router transform (POST /routerTransform), the compacted payload
// (x-content-format: json+compactedv1), dynamic config templates and the
// /features document. Every decision about an event is the engine's
// (internal/spotify); this package only parses requests and shapes replies
// the way rudder-transformer does. It does no I/O.
package rudder

import (
	"strings"

	"spotifypixel/internal/spotify"
)

// Destination names as rudder-server spells them.
const (
	DestName = "spotify_pixel" // the URL and destType name (matched case-insensitively)
	DestType = "SPOTIFY_PIXEL" // the statTags and /features name
)

// APIVersion is the value of the apiVersion header rudder-server requires on
// every reply of a destination transform.
const APIVersion = "2"

// CompactedFormat is the x-content-format value of a compacted payload.
const CompactedFormat = "json+compactedv1"

// Options configure one transformation request.
type Options struct {
	BeaconURL     string // endpoint of every delivery request; empty: Spotify's image pixel
	MaxEvents     int    // most events (array elements) accepted; 0: no limit
	CAPIURL       string // Conversions API endpoint; empty: DefaultCAPIURL
	CAPIBatchSize int    // most events per router CAPI envelope; 0: capi.DefaultBatchSize
	MaxDepth      int    // deepest nesting of JSON arrays and objects in the body; 0: jsonscan.MaxDepth
	Explain       bool   // add each reply entry's decision steps, "explain" (for testing; rudder-server ignores it)
}

func (o Options) beaconURL() string {
	if o.BeaconURL == "" {
		return spotify.DefaultBeaconURL
	}
	return o.BeaconURL
}

// IsDestination reports whether name (a URL segment or a destType) names
// this destination; rudder-server sends it lower-case, but any case matches.
func IsDestination(name string) bool { return strings.EqualFold(name, DestName) }

// IsCompacted reports whether an x-content-format header value announces the
// compacted payload.
func IsCompacted(contentFormat string) bool {
	return strings.EqualFold(strings.TrimSpace(contentFormat), CompactedFormat)
}

// features is the /features document. rudder-server polls it and needs the
// source-transform flags (it refuses to run without them), the regulations
// list and the compaction flag; routerTransform says that this destination
// may be transformed at the router.
const features = `{"routerTransform":{"` + DestType + `":true},` +
	`"regulations":[],` +
	`"supportSourceTransformV1":true,` +
	`"upgradedToSourceTransformV2":true,` +
	`"supportDestTransformCompactedPayloadV1":true}` + "\n"

// AppendFeatures appends the /features document.
func AppendFeatures(dst []byte) []byte { return append(dst, features...) }

// Processor runs a processor transform request (the body of POST
// /v0/destinations/spotify_pixel, compacted or not) and appends the JSON
// array rudder-server expects. The summary counts the events for metrics and
// logs. A request-level problem (malformed body, one nesting deeper than
// opts.MaxDepth, too many events, a compacted input naming no destination)
// is an *apperr.Error.
func Processor(dst, body []byte, compacted bool, opts Options) ([]byte, spotify.Summary, error) {
	items, err := parseProcessor(body, compacted, opts.MaxEvents, opts.MaxDepth)
	if err != nil {
		return dst, spotify.Summary{}, err
	}
	r := newRun(opts, featureProcessor)
	dst = append(dst, '[')
	for i := range items {
		dst = r.appendProcessorItem(dst, &items[i])
	}
	return append(dst, "]\n"...), r.sum, nil
}

// Router runs a router transform request (the body of POST
// /routerTransform, compacted or not) and appends {"output": [...]}.
func Router(dst, body []byte, compacted bool, opts Options) ([]byte, spotify.Summary, error) {
	items, err := parseRouter(body, compacted, opts.MaxEvents, opts.MaxDepth)
	if err != nil {
		return dst, spotify.Summary{}, err
	}
	r := newRun(opts, featureRouter)
	dst = append(dst, `{"output":[`...)
	if len(items) == 0 {
		dst = append(dst, `{"metadata":null,"batched":false,"statusCode":400,"error":"Invalid event array"}`...)
	}
	for i := range items {
		dst = r.appendRouterItem(dst, &items[i])
	}
	dst = r.appendRouterCAPI(dst)
	return append(dst, "]}\n"...), r.sum, nil
}
