package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// FuzzScan checks the engine's JSON walkers against gjson on valid JSON: the
// same members and elements, in the same order, with the same raw values.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `{"a":1,"b":"x","c":{"d":[1,2,{"e":"\""}]},"f":null}`,
		`{"k\"ey":"v\\","x":[true,false],"y":-1.5e3}`, ` { "a" : [ 1 , 2 ] , "b" : { } } `,
		`[{"a":1},"s",3,null,[[]]]`, `{"a":"0123456789abcdefghij\"klmnopq"}`, `{"\u0041":1}`,
		`[1,]`, `{"a":1,}`, `{"a" 1}`, `[01]`, `[1.]`, `[-]`, `[1e]`, `[.5]`, `"\x"`, `"\u12g4"`, "\"a\tb\"",
		`[tru]`, `[nul]`, `{"a":[}`, `{]`, `[1 2]`, `{"a":1 "b":2}`, `"abc`, `1 2`, `-0.5e-3`, `[[[[]]]]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Check must agree with encoding/json's validator (RFC 8259)
		// on text with fewer brackets than the limit (the limit itself is
		// tested in TestCheckNesting and the pipeline's TestNestingLimit).
		shallow := strings.Count(s, "[")+strings.Count(s, "{") < MaxDepth
		if err := Check(s, MaxDepth); shallow && (err == nil) != json.Valid([]byte(s)) {
			t.Fatalf("Check says %v, encoding/json.Valid says %v", err, json.Valid([]byte(s)))
		}
		if end := SkipValue(s, SkipWS(s, 0), MaxDepth); end > len(s) {
			t.Fatalf("skipValue ran past the end: %d > %d", end, len(s))
		}
		if !gjson.Valid(s) {
			EachMember(s, func(string, string, string) bool { return true }) // must not panic
			Elements(s, 0, func(at int) int { return SkipValue(s, at, MaxDepth) })
			return
		}
		// On JSON text, the lexical count agrees with the checker's limit,
		// wherever the text is cut in two.
		n, cut := Nesting{Max: 3}, len(s)/2
		deep := n.Scan([]byte(s[:cut])) >= 0 || n.Scan([]byte(s[cut:])) >= 0
		if err := Check(s, 3); deep != (err != nil && err.TooDeep) {
			t.Fatalf("Nesting says too deep: %v; Check(3): %v", deep, err)
		}
		root := gjson.Parse(s)
		if end := SkipValue(s, SkipWS(s, 0), MaxDepth); s[SkipWS(s, 0):end] != strings.TrimRight(root.Raw, " \t\r\n") {
			t.Fatalf("skipValue: %q, gjson: %q", s[SkipWS(s, 0):end], root.Raw)
		}
		var want, got []string
		root.ForEach(func(k, v gjson.Result) bool {
			if root.IsObject() {
				want = append(want, k.Str)
			}
			want = append(want, v.Raw)
			return true
		})
		switch {
		case root.IsObject():
			EachMember(s, func(k, _, raw string) bool { got = append(got, k, raw); return true })
		case root.IsArray():
			Elements(s, 0, func(at int) int {
				end := SkipValue(s, at, MaxDepth)
				got = append(got, s[at:end])
				return end
			})
		default:
			return
		}
		if len(got) != len(want) {
			t.Fatalf("got %q, want %q", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("item %d: got %q, want %q", i, got[i], want[i])
			}
		}
	})
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"plain", "quote\" back\\slash", "ctl\x00\x1f\n\t\r", "é€😀", "bad\xffutf8", "\u2028"} {
		out := AppendString(nil, s)
		if !json.Valid(out) || !utf8.Valid(out) {
			t.Fatalf("%q → invalid %s", s, out)
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q → %s: %v", s, out, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Errorf("%q round-trips to %q", s, back)
		}
	}
}

// TestCheckNesting: Check counts levels of arrays and objects, not brackets
// inside strings, and refuses the first one past the limit at its offset.
func TestCheckNesting(t *testing.T) {
	for s, want := range map[string]bool{
		`{}`: true, `[[[]]]`: true, `"[[[[[["`: true, `{"a":"\"[["}`: true,
		strings.Repeat("[", 5) + strings.Repeat("]", 5):             true,
		strings.Repeat("[", 6) + strings.Repeat("]", 6):             false,
		strings.Repeat("{\"a\":", 6) + "1" + strings.Repeat("}", 6): false,
	} {
		err := Check(s, 5)
		if (err == nil) != want || (err != nil && !err.TooDeep) {
			t.Errorf("Check(%.40q, 5) = %v, want within the limit: %v", s, err, want)
		}
	}
	if err := Check(strings.Repeat("[", 7), 5); err == nil || !err.TooDeep || err.Offset != 5 {
		t.Errorf("seven [ against a limit of 5: %+v, want too deep at byte 5", err)
	}
}

// TestNestingInPieces: Nesting finds the bracket past the limit wherever
// the text is cut, with strings and escapes straddling the cuts.
func TestNestingInPieces(t *testing.T) {
	text := `{"a":"[[\\\"[[","b":[[{"c":"x\\"}]]]}`
	for limit, want := range map[int]int{4: -1, 3: strings.Index(text, "{\"c")} {
		for cut := 0; cut <= len(text); cut++ {
			n := Nesting{Max: limit}
			got := n.Scan([]byte(text[:cut]))
			if got < 0 {
				if got = n.Scan([]byte(text[cut:])); got >= 0 {
					got += cut
				}
			}
			if got != want {
				t.Fatalf("limit %d, cut at %d: too deep at %d, want %d", limit, cut, got, want)
			}
		}
	}
}
