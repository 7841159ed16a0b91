package router

import (
	"errors"
	"net/http"
	"time"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/tail"
)

// tailHeartbeat is how often an idle live tail gets a comment line, so that
// proxies keep it open and a gone client is noticed.
const tailHeartbeat = 15 * time.Second

// liveTail serves GET /debug/events?destination=<id>: Server-Sent Events,
// one "result" event per sampled result of that configured destination,
// until the client goes away or the server shuts down.
func liveTail(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("destination")
		set := d.Store.Current()
		noteDestination(r, set, id)
		if id == "" {
			writeError(w, r, apperr.New(apperr.BadRequest, "the live tail needs ?destination=<id>"))
			return
		}
		if _, err := set.Get(id); err != nil {
			writeError(w, r, err)
			return
		}
		sub, err := d.Tail.Subscribe(id)
		if errors.Is(err, tail.ErrFull) {
			w.Header().Set("Retry-After", "10")
			writeError(w, r, apperr.New(apperr.Unavailable, "the live tail has its most subscribers; retry later"))
			return
		}
		defer d.Tail.Unsubscribe(sub)
		rc := http.NewResponseController(w)
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		send := func(p []byte) bool {
			// Each write gets its own deadline: the server's write timeout
			// bounds one write, not the stream.
			_ = rc.SetWriteDeadline(time.Now().Add(tailHeartbeat))
			if _, err := w.Write(p); err != nil {
				return false
			}
			return rc.Flush() == nil
		}
		if !send([]byte(": watching " + id + "\n\n")) {
			return
		}
		beat := time.NewTicker(tailHeartbeat)
		defer beat.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-beat.C:
				if !send([]byte(": heartbeat\n\n")) {
					return
				}
			case res := <-sub.Results():
				if !send(append(append([]byte("event: result\ndata: "), res...), "\n\n"...)) {
					return
				}
			}
		}
	}
}

// publishResults offers a /transform answer's results to the live tail of
// the destination the request named, when someone watches it.
func publishResults(d Deps, r *http.Request, answer []byte) {
	id := info(r).destination
	if !d.Tail.Watching(id) {
		return
	}
	results := gjson.GetBytes(answer, "results").Array()
	d.Tail.Publish(id, len(results), func(i int) []byte { return tailSample(id, results[i]) })
}

// publishLine offers one NDJSON result line to the live tail.
func publishLine(d Deps, id string, line []byte) {
	if !d.Tail.Watching(id) {
		return
	}
	d.Tail.Publish(id, 1, func(int) []byte { return tailSample(id, gjson.ParseBytes(line)) })
}

// tailSample is what the live tail shows of a result: its position, status,
// reason and command names; never the params, ids, emails, IPs or beacons.
func tailSample(destination string, res gjson.Result) []byte {
	out := append(make([]byte, 0, 256), `{"destination":`...)
	out = jsonscan.AppendString(out, destination)
	out = append(out, `,"index":`...)
	out = append(out, res.Get("index").Raw...)
	out = append(out, `,"status":`...)
	out = jsonscan.AppendString(out, res.Get("status").Str)
	if reason := res.Get("reason"); reason.Exists() {
		out = append(out, `,"reason":`...)
		out = jsonscan.AppendString(out, reason.Str)
	}
	out = append(out, `,"commands":[`...)
	for i, c := range res.Get("calls.#.command").Array() {
		if i > 0 {
			out = append(out, ',')
		}
		out = jsonscan.AppendString(out, c.Str)
	}
	return append(out, "]}"...)
}
