package spotify

import (
	"strings"
	"testing"
)

// One Transformer keeps the last session's hash between events: each event
// must still get the uid of its own session id, and none without one.
func TestSessionUIDPerEvent(t *testing.T) {
	cfg, _ := ParseConfig([]byte(`{"pixelId":"p1"}`))
	tr := NewTransformer(cfg, Options{Beacons: true})
	for _, c := range []struct{ session, uid string }{
		{`"sess-1"`, "abe633f3a47a2758174eabe9160daf36c4b1a33e8642ebf96e8f91c3fcbd5f9c"},
		{`"sess-1"`, "abe633f3a47a2758174eabe9160daf36c4b1a33e8642ebf96e8f91c3fcbd5f9c"},
		{`42`, "73475cb40a568e8da8a045ced110137e159f890ac4da883b6b17dc651b3a8049"},
		{`0`, ""},
		{`"sess-1"`, "abe633f3a47a2758174eabe9160daf36c4b1a33e8642ebf96e8f91c3fcbd5f9c"},
		{`null`, ""},
	} {
		tr.Transform(`{"type":"page","messageId":"m","context":{"sessionId":` + c.session + `}}`)
		res := string(tr.AppendResult(nil, 0))
		got := ""
		if i := strings.Index(res, "&uid="); i >= 0 {
			got = res[i+5 : i+5+64]
		}
		if got != c.uid {
			t.Errorf("sessionId %s: uid %q, want %q (%s)", c.session, got, c.uid, res)
		}
	}
}
