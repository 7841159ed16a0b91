package pipeline

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/destinations"
	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/testkit/corpus"
)

// hostile lists /transform bodies aimed at the guess of where the batch ends
// and at the validator; most start with `{"batch":[`, so that the large
// variants can put hundreds of events in front of their tails.
func hostile() []string {
	ws := " \t\n\r"
	b := []string{
		`{"batch":[]}`, `{"batch":[ ]}`, `{"batch":[{}]}`, `{"batch":[{"type":"page"},1,"x",null,[]]}`,
		ws + `{` + ws + `"batch"` + ws + `:` + ws + `[` + ws + `{` + ws + `"type"` + ws + `:` + ws + `"page"` + ws + `}` + ws + `,` + ws + `2` + ws + `]` + ws + `}` + ws,
		"\v{\"batch\":[]}", "{\"batch\":[]}\f", "{\"batch\":[\u00a0]}", "{\"batch\":[]\u2028}",
		`{"batch":[{"type":"page","name":"]"}]}`, `{"batch":[{"type":"page","name":"]}"}]}`, `{"batch":["]}"]}`,
		`{"batch":[{"type":"page","name":"x\"]}"}]}`, `{"batch":[{"type":"page","name":"x\\"}]}`,
		`{"batch":[{"type":"page","name":"x\\\"]}`, `{"batch":["\"]}`, `{"batch":["\\"]}`, `{"batch":["\\\"]"]}`,
		`{"batch":["\\\\"]}`, `{"batch":["a\\"]}`, `{"batch":["\"]"]}`, `{"batch":["]\"]}`,
		`{"batch":["\u005d"]}`, `{"batch":["\u005D\u007d"]}`, `{"batch":["\u00"]}`, `{"batch":["\u12G4"]}`,
		`{"batch":["\uD800"]}`, `{"batch":["\uDC00\uD800x"]}`, `{"batch":["\x"]}`, `{"batch":["\/\b\f\n\r\t"]}`,
		`{"batch":["\u"]}`, `{"batch":["\`, `{"batch":["\"]`, `{"batch":["]`, `{"batch":[1]`, `{"batch":[`,
		`{"batch":[1],"x":[2]}`, `{"batch":[1] ,"x":[]}`, `{"x":[],"batch":[1]}`, `{"batch":[1],"x":"]"}`,
		`{"batch":[1],"batch":[2]}`, `{"batch":1,"batch":[2]}`, `{"batch":[2],"batch":1}`, `{"batch":[[1],"batch":[2]]}`,
		`{"batch":[{"type":"page"}],"batch":[{"type":"track","event":"Order Completed"}]}`,
		`{"destination":{"ID":"demo"},"destination":1,"batch":[]}`, `{"destination":1,"destination":{"ID":"demo"},"batch":[]}`,
		`{"batch":[],"destination":{"ID":"nope"},"x":[]}`, `{"batch":[{"type":"page"}],"destination":{"ID":"demo"}}`,
		`{"destination":{"ID":"x"},"batch":[{"type":"page"}]}`, `{"destination":{"Config":{"pixelId":"p"}},"batch":[1],"y":[]}`,
		`{"batch":{}}`, `{"batch":"[]"}`, `{"batch":null}`, `{"batch":1,"x":[]}`, `{"batch":1,"x":[]} `, `{"batch":{"a":[]}}`,
		`{"x":[]}`, `[]`, `[{"batch":[]}]`, `"batch"`, `1`, `null`, `{}`, ``, ` `, `{"batch":[]}]`, `[{"batch":[]}`,
		`{"batch":[]}x`, `{"batch":[]}}`, `{"batch":[]]}`, "{\"batch\":[]}\x00", `{"batch":[]},`, `{"batch":[]}{}`,
		`{"batch":[]} {"batch":[]}`, `{"batch":[]}{"batch":[]}`, `{"batch":[]}[]}`, `{"batch":[1]}]}`, `{"batch":[[]]}]}`,
		`{"batch" []}`, `{"batch"::[]}`, `{"batch":[],}`, `{,"batch":[]}`, `{"batch":[,]}`, `{"batch":[1,]}`, `{"batch":[,1]}`,
		`{"batch":[1 2]}`, `{"batch":[}`, `{"batch":]}`, `{"batch":[{]}`, `{"batch":[{"type":"page"]}`, `{"batch":[[}]]}`,
		`{"batch":[{"type":"page"}}]}`, `{"batch":[{"a":1,"b"}]}`, `{batch:[]}`, `{'batch':[]}`, `{"b\u0061tch":[1]}`,
		`{"batch\u0000":[1]}`, `{"batch":[{"type":"page","properties":{"a":[}]}}]}`, `{"batch":[{"type":"page",}]}`,
		"\xef\xbb\xbf{\"batch\":[]}", "\xef\xbb\xbf\xef\xbb\xbf{\"batch\":[]}", "\xef\xbb\xbf", " \xef\xbb\xbf{\"batch\":[]}",
		"{\"batch\":[]\xef\xbb\xbf}", "{\"batch\":[\"\xef\xbb\xbf\"]}", "{\"batch\":[\xff]}", "{\"\xff\":1,\"batch\":[]}",
		`{"batch":["a"1]}`, `{"batch":[1"a"]}`, `{"batch":[{}{}]}`, `{"batch":[[]1]}`, `{"batch":[""""]}`, `{"batch":[1{}]}`,
		`{"batch":[{"a":1}"x"]}`, `{"batch":[tru e]}`, `{"batch":[{]]}`, `{"batch":[[}]}`, `{"batch":[:]}`, `{"batch":[{"a":"\\"}"]}`,
	}
	for _, k := range []int{997, 998, 999, 1500} { // the whole body nests k+2 levels
		deep := strings.Repeat("[", k) + strings.Repeat("]", k)
		b = append(b, `{"batch":[`+deep+`]}`, `{"batch":[1,`+deep+`,2]}`, `{"x":`+deep[1:len(deep)-1]+`,"batch":[]}`,
			`{"batch":[`+strings.Repeat(`{"a":`, k)+"1"+strings.Repeat("}", k)+`]}`, `{"batch":[`+deep[:k+1]+`]}`)
	}
	for _, n := range []string{"-0", "1e5", "1E+5", "0.5", "01", "1.", "-", ".5", "1e", "-01", "1e+", "+1", "0x1",
		"1.5e-3", "--1", "1ee5", "1.e5", "NaN", "-0.0E-0", "1E", "2e-", "0e0", "-.5", "00",
		"tru", "nulll", "true", "fals", "falsee", "nul", "True", "t", "n", "f", "truenull"} {
		b = append(b, `{"batch":[`+n+`]}`, `{"batch":[1,`+n+`]}`, `{"x":`+n+`,"batch":[]}`,
			`{"batch":[{"type":"page","properties":{"n":`+n+`}}]}`, `{"batch":[{"type":"page","properties":[`+n+`]}]}`)
	}
	for _, c := range []string{"\x00", "\x01", "\x1f", "\t", "\n", "\x7f", "\xff", "\xed\xa0\x80", "\xc3", "\"", "\\"} {
		b = append(b, `{"batch":["`+c+`"]}`, `{"batch":[{"type":"page","name":"0123456789`+c+`abcdef"}]}`,
			`{"batch":[{"type":"page","n`+c+`":1}]}`, `{"x":"`+c+`","batch":[]}`, `{"batch":["]`+c+`"]}`)
	}
	return b
}

var utf8BOM = []byte("\xef\xbb\xbf")

// depth is the deepest nesting of a body encoding/json accepts.
func depth(b []byte) int {
	var d, m int
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			d++
			m = max(m, d)
		case '}', ']':
			d--
		}
	}
	return m
}

// agree fails unless Transform answers body as the exact path does
// (sameAnswer) and, judged by encoding/json alone, refuses it as not JSON
// (or too deep) exactly when it is not JSON (or nests deeper than the limit).
func agree(t *testing.T, set *destinations.Set, body []byte, q Query) {
	t.Helper()
	sameAnswer(t, set, body, q)
	_, _, err := new(Runner).Transform(nil, set, body, q)
	bad := !json.Valid(bytes.TrimPrefix(body, utf8BOM))
	if !bad {
		bad = depth(body) > cmp.Or(q.MaxDepth, jsonscan.MaxDepth)
	}
	msg := fmt.Sprint(err)
	refused := err != nil && apperr.CodeOf(err) == apperr.BadRequest &&
		(strings.Contains(msg, "not valid JSON") || strings.Contains(msg, "deeper than") || strings.Contains(msg, "is empty"))
	if refused != bad {
		t.Fatalf("body %.300q (%d bytes) query %+v:\nTransform: %v\nencoding/json: valid and shallow enough = %v", body, len(body), q, err, !bad)
	}
}

// queries are the requests each body is sent with: plain, with a limit on
// events that a body can exceed, and with nesting limits a body meets.
var queries = []Query{
	{DestinationID: "demo", Include: "beacons"},
	{DestinationID: "demo", MaxEvents: 2},
	{DestinationID: "demo", MaxDepth: 1},
	{DestinationID: "demo", MaxDepth: 4, MaxEvents: 1},
}

// padded are bodies with one string long enough for the batch to be split
// across cores, whatever else it holds: a fault among few events, or a
// batch that is the only level too deep.
func padded() []string {
	pad := `"` + strings.Repeat("a", 256<<10) + `"`
	return []string{`{"batch":[1,` + pad + `,tru]}`, `{"batch":[tru,` + pad + `]}`, `{"batch":[[}, ` + pad + `]}`,
		`{"batch":[[[[1]]],` + pad + `]}`, `{"batch":[` + pad + `,1]}`, `{"batch":[1,` + pad + `,2]}`}
}

// bigEvents is the text of 260 corpus events (over 300 KiB and 256 events),
// to put in front of a hostile tail so that the batch is split across cores.
func bigEvents(t testing.TB) string {
	events := corpus.Events(11, 260)
	s := string(bytes.Join(events, []byte(",")))
	if len(s) < 300<<10 {
		t.Fatalf("corpus batch is only %d bytes", len(s))
	}
	return s
}

// large turns a hostile body that starts with `{"batch":[` into one whose
// batch starts with hundreds of real events; ok is false for other bodies.
func large(big, body string) (string, bool) {
	const head = `{"batch":[`
	if !strings.HasPrefix(body, head) {
		return "", false
	}
	rest := body[len(head):]
	if strings.HasPrefix(rest, "]") {
		return head + big + rest, true
	}
	return head + big + "," + rest, true
}

// TestAdversarialBodies proves that every hostile body, small or with a
// batch large enough to be split across cores (hundreds of real events in
// front of the hostile tail, or one long string), gets the exact path's
// answer and is refused as not JSON exactly when encoding/json refuses it.
func TestAdversarialBodies(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	set := demoSet(t)
	big := bigEvents(t)
	for i, body := range hostile() {
		for qi, q := range queries {
			t.Run(fmt.Sprintf("small/%d/q%d", i, qi), func(t *testing.T) { agree(t, set, []byte(body), q) })
			if lb, ok := large(big, body); ok && qi == i%2 {
				t.Run(fmt.Sprintf("large/%d/q%d", i, qi), func(t *testing.T) { agree(t, set, []byte(lb), q) })
			}
		}
	}
	for i, body := range padded() {
		for qi, q := range queries {
			t.Run(fmt.Sprintf("padded/%d/q%d", i, qi), func(t *testing.T) { agree(t, set, []byte(body), q) })
		}
	}
}

// mutate applies one to three random byte edits (delete, insert, replace)
// to body, half of them within the last 24 bytes, where the guess looks.
func mutate(r *rand.Rand, body []byte) []byte {
	const alphabet = "\"\\{}[],: \x00\x1f\x7fa0-eE.+"
	b := bytes.Clone(body)
	for range 1 + r.IntN(3) {
		at := r.IntN(len(b) + 1)
		if r.IntN(2) == 0 {
			at = max(0, len(b)-r.IntN(25))
		}
		c := alphabet[r.IntN(len(alphabet))]
		switch op := r.IntN(3); {
		case op == 0 && at < len(b):
			b = append(b[:at], b[at+1:]...)
		case op == 1 && at < len(b):
			b[at] = c
		default:
			b = append(b[:at], append([]byte{c}, b[at:]...)...)
		}
	}
	return b
}

// TestMutationAgreesWithExactParse proves the two properties of
// TestAdversarialBodies on randomly edited corpus bodies (fixed seed): small
// ones with every query, and a few large ones split across cores.
func TestMutationAgreesWithExactParse(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	set := demoSet(t)
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 3000 {
		body := corpus.Batch(corpus.Events(uint64(n%50), 1+n%4))
		agree(t, set, mutate(r, body), queries[n%len(queries)])
	}
	big := corpus.Batch(corpus.Events(5, 600))
	for n := range 40 {
		agree(t, set, mutate(r, big), queries[n%2])
	}
}

// FuzzGuess proves the same two properties on fuzzed bodies; the flags
// pick the query and whether hundreds of events go in front of the batch.
func FuzzGuess(f *testing.F) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for i, body := range hostile() { // padded bodies are too slow to mutate
		f.Add([]byte(body), uint8(i))
	}
	set, err := destinations.Load("")
	if err != nil {
		f.Fatal(err)
	}
	big := bigEvents(f)
	f.Fuzz(func(t *testing.T, body []byte, flags uint8) {
		if flags&4 != 0 {
			lb, ok := large(big, string(body))
			if !ok {
				return
			}
			body = []byte(lb)
		}
		agree(t, set, body, queries[flags%uint8(len(queries))])
	})
}
