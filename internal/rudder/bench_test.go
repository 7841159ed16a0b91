package rudder

import (
	"testing"

	"spotifypixel/internal/testkit/corpus"
)

// BenchmarkProcessor measures a rudder-server-shaped processor request of
// 1,000 realistic events.
func BenchmarkProcessor(b *testing.B) {
	body := rudderServerBody(corpus.Events(1, 1000), corpus.Config())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var dst []byte
	for b.Loop() {
		out, _, err := Processor(dst[:0], body, false, Options{})
		if err != nil {
			b.Fatal(err)
		}
		dst = out
	}
}
