// Package pipeline is the one path from a /transform request body to its
// response, shared by the HTTP service and the CLI: parse, resolve the
// destination, enforce limits, run the engine over the batch.
package pipeline

import (
	"strings"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/destinations"
	"spotifypixel/internal/spotify"
)

// Query is what a request asks for besides its body.
type Query struct {
	DestinationID string // ?destination= or -destination; "" when not given
	Include       string // comma-separated outputs: "beacons"
	MaxEvents     int    // 0 means no limit
	BeaconURL     string // base of beacons; empty means Spotify's
}

// Options parses the include list into engine options.
func (q Query) Options() (spotify.Options, error) {
	opts := spotify.Options{BeaconURL: q.BeaconURL}
	for _, part := range strings.Split(q.Include, ",") {
		switch strings.TrimSpace(part) {
		case "":
		case "beacons":
			opts.Beacons = true
		default:
			return opts, apperr.New(apperr.BadRequest, "include: unknown output %q (supported: beacons)", strings.TrimSpace(part))
		}
	}
	return opts, nil
}

// Resolve finds the destination a request names: an inline destination with
// a Config wins; else ?destination, else the inline destination's ID, looked
// up among the configured ones.
func Resolve(set *destinations.Set, req *spotify.Request, id string) (string, *spotify.Config, error) {
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

// Transform runs a whole /transform request and appends its response to dst.
func Transform(dst []byte, set *destinations.Set, body []byte, q Query) ([]byte, spotify.Summary, error) {
	opts, err := q.Options()
	if err != nil {
		return dst, spotify.Summary{}, err
	}
	req, err := spotify.ParseRequest(body)
	if err != nil {
		return dst, spotify.Summary{}, err
	}
	id, cfg, err := Resolve(set, &req, q.DestinationID)
	if err != nil {
		return dst, spotify.Summary{}, err
	}
	if q.MaxEvents > 0 {
		if n := spotify.CountEvents(req.Batch); n > q.MaxEvents {
			return dst, spotify.Summary{}, apperr.New(apperr.TooLarge, "batch has %d events, more than the limit of %d", n, q.MaxEvents)
		}
	}
	out, sum := spotify.NewTransformer(cfg, opts).AppendResponse(dst, id, req.Batch)
	return out, sum, nil
}
