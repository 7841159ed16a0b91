package rudder

import (
	"github.com/tidwall/gjson"

	"spotifypixel/internal/capi"
	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/spotify"
)

// DefaultCAPIURL is Spotify's Conversions API endpoint.
const DefaultCAPIURL = "https://capi.spotify.com/capi-direct/events/"

func (o Options) capiURL() string {
	if o.CAPIURL == "" {
		return DefaultCAPIURL
	}
	return o.CAPIURL
}

func (o Options) capiBatchSize() int {
	if o.CAPIBatchSize <= 0 {
		return capi.DefaultBatchSize
	}
	return o.CAPIBatchSize
}

// capiBatch gathers, at the router, the CAPI events of one destination and
// the metadata of the jobs they came from, until they are sent as envelopes.
type capiBatch struct {
	connID, token string
	destination   string // the destination to echo, raw JSON
	events        capi.Events
	metadata      []string // raw metadata of the job of each event
}

// appendCAPIDelivery appends one Conversions API delivery request: a POST of
// the envelope holding events[from:to] with the destination's bearer token.
func (r *transformRun) appendCAPIDelivery(dst []byte, connID, token string, events *capi.Events, from, to int) []byte {
	dst = append(dst, `{"version":"1","type":"REST","method":"POST","endpoint":`...)
	dst = jsonscan.AppendString(dst, r.opts.capiURL())
	dst = append(dst, `,"headers":{"Authorization":`...)
	dst = jsonscan.AppendString(dst, "Bearer "+token)
	dst = append(dst, `,"Content-Type":"application/json"},"params":{},"body":{"JSON":`...)
	dst = capi.AppendEnvelopeHead(dst, connID)
	for i := from; i < to; i++ {
		if i > from {
			dst = append(dst, ',')
		}
		dst = append(dst, events.Event(i)...)
	}
	dst = append(dst, `]}},"JSON_ARRAY":{},"XML":{},"FORM":{}},"files":{},"userId":`...)
	dst = append(dst, r.userID...)
	return append(dst, '}')
}

// appendProcessorCAPI appends, after an ok event's beacons, one processor
// entry per Conversions API event when its destination has CAPI keys.
func (r *transformRun) appendProcessorCAPI(dst []byte, tr *spotify.Transformer, md gjson.Result) []byte {
	connID, token, ok := tr.Config().CAPI()
	if !ok {
		return dst
	}
	r.capi.Reset()
	n, _ := tr.CAPIEvents(&r.capi)
	for i := range n {
		dst = comma(dst)
		dst = append(dst, `{"output":`...)
		dst = r.appendCAPIDelivery(dst, connID, token, &r.capi, i, i+1)
		if md.Exists() {
			dst = append(dst, `,"metadata":`...)
			dst = appendRaw(dst, md.Raw)
		}
		dst = append(dst, `,"statusCode":200}`...)
	}
	return dst
}

// collectRouterCAPI adds an ok event's CAPI events to its destination's batch.
func (r *transformRun) collectRouterCAPI(tr *spotify.Transformer, destID, destination string, md gjson.Result) {
	connID, token, ok := tr.Config().CAPI()
	if !ok {
		return
	}
	key := destID + "\x00" + connID
	b := r.capiBatches[key]
	if b == nil {
		if r.capiBatches == nil {
			r.capiBatches = map[string]*capiBatch{}
		}
		b = &capiBatch{connID: connID, token: token, destination: destination}
		r.capiBatches[key] = b
		r.capiOrder = append(r.capiOrder, key)
	}
	n, _ := tr.CAPIEvents(&b.events)
	raw := "null"
	if md.Exists() {
		raw = md.Raw
	}
	for range n {
		b.metadata = append(b.metadata, raw)
	}
}

// appendRouterCAPI appends the router's batched CAPI entries: per
// destination, envelopes of at most the batch size, each with the metadata
// of every job whose events it carries (once per job).
func (r *transformRun) appendRouterCAPI(dst []byte) []byte {
	size := r.opts.capiBatchSize()
	r.userID = append(r.userID[:0], `""`...)
	for _, key := range r.capiOrder {
		b := r.capiBatches[key]
		for from := 0; from < b.events.Len(); from += size {
			to := min(from+size, b.events.Len())
			dst = comma(dst)
			dst = append(dst, `{"batchedRequest":`...)
			dst = r.appendCAPIDelivery(dst, b.connID, b.token, &b.events, from, to)
			dst = append(dst, `,"metadata":[`...)
			for i := from; i < to; i++ {
				if i > from && b.metadata[i] == b.metadata[i-1] {
					continue
				}
				if i > from {
					dst = append(dst, ',')
				}
				dst = appendRaw(dst, b.metadata[i])
			}
			dst = append(dst, `],"batched":true,"statusCode":200`...)
			if b.destination != "" {
				dst = append(dst, `,"destination":`...)
				dst = appendRaw(dst, b.destination)
			}
			dst = append(dst, '}')
		}
	}
	return dst
}
