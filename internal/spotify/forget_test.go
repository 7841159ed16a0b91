package spotify

import (
	"runtime"
	"testing"
	"time"

	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/testkit/corpus"
)

// TestForgetReleasesText checks that a Transformer which has read a batch
// keeps the body alive until Forget, and no longer after it: a pooled
// Transformer must not pin a finished request's body (or its config).
func TestForgetReleasesText(t *testing.T) {
	cfg, err := ParseConfig(corpus.Config())
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTransformer(cfg, Options{Beacons: true, CAPI: true})
	for _, forget := range []bool{false, true} {
		freed := make(chan struct{})
		func() {
			// A fresh body each time, read by the whole batch path: page
			// views (their properties kept for the view), conversions with
			// products, filtered events.
			body := corpus.Batch(corpus.Events(7, 200))
			runtime.AddCleanup(&body[0], func(ch chan struct{}) { close(ch) }, freed)
			batch := jsonscan.Str(body)[len(`{"batch":`) : len(body)-1] // in place
			var sum Summary
			if _, end, ok := tr.AppendEvents(nil, batch, jsonscan.MaxDepth, 0, &sum); !ok || end != len(batch) || sum.OK == 0 {
				t.Fatalf("the batch did not transform: ok=%v %+v", ok, sum)
			}
		}()
		if forget {
			tr.Forget()
		}
		got := collected(freed)
		if got != forget {
			t.Errorf("Forget called: %v; body collected: %v", forget, got)
		}
		tr.Reset(cfg, Options{Beacons: true})
	}
}

// collected runs the collector until freed closes, or gives up.
func collected(freed chan struct{}) bool {
	for range 20 {
		runtime.GC()
		select {
		case <-freed:
			return true
		case <-time.After(10 * time.Millisecond):
		}
	}
	return false
}
