package spotify

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"spotifypixel/internal/corpus"
)

func BenchmarkZZKinds(b *testing.B) {
	events := corpus.Events(1, benchEvents)
	tr := benchTransformer(b, corpus.Config())
	groups := map[string][]string{}
	for _, e := range events {
		k := gjson.GetBytes(e, "type").Str
		if k == "track" {
			if tr.Transform(string(e)).Status == StatusOK {
				k = "conv"
			} else {
				k = "trackfiltered"
			}
		}
		groups[k] = append(groups[k], string(e))
	}
	for _, k := range []string{"page", "conv", "trackfiltered"} {
		evs := groups[k]
		b.Run(k, func(b *testing.B) {
			var n int64
			for _, e := range evs {
				n += int64(len(e))
			}
			res := gjson.Parse("[" + strings.Join(evs, ",") + "]")
			out, _ := tr.AppendResponse(nil, "x", res)
			b.SetBytes(n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out, _ = tr.AppendResponse(out[:0], "x", res)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(evs)), "ns/event")
		})
	}
}
