package tail

import (
	"sync"
	"testing"
)

// TestPublishNeverBlocks: publishers never wait on a subscriber that does
// not read, subscribers come and go while results are published (run with
// -race), and a subscriber gets no more than its burst and buffer allow.
func TestPublishNeverBlocks(t *testing.T) {
	h := New(3, 5)
	idle, err := h.Subscribe("d")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe("d"); err != nil {
		t.Fatal(err)
	}
	third, _ := h.Subscribe("d")
	if _, err := h.Subscribe("d"); err != ErrFull {
		t.Fatalf("a fourth subscriber: %v", err)
	}
	h.Unsubscribe(third)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				h.Publish("d", 10, func(int) []byte { return []byte(`{}`) })
				h.Publish("other", 10, func(int) []byte { t.Error("built for nobody"); return nil })
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			if s, err := h.Subscribe("x"); err == nil {
				h.Unsubscribe(s)
			}
		}
	})
	wg.Wait()
	if n := len(idle.Results()); n > 10 || n == 0 {
		t.Errorf("the idle subscriber holds %d results, want 1 to its buffer of 10", n)
	}
	if h.Watching("other") || !h.Watching("d") {
		t.Error("Watching is wrong")
	}
}
