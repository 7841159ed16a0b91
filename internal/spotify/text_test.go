package spotify

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTrimIsJavaScriptTrim(t *testing.T) {
	cases := map[string]string{
		"  a b  ":             "a b",
		"\t\n\v\f\r a":        "a",
		"\u00a0\ufeffa\u3000": "a",
		"\u2028a\u2029":       "a",
		"\u2000\u200aa\u202f": "a",
		"\u205f\u1680a":       "a",
		"\u0085a\u0085":       "\u0085a\u0085", // NEL is White_Space in Unicode but not trimmed by JS
		"\u200ba\u200b":       "\u200ba\u200b", // zero width space is not whitespace
		"\u180ea":             "\u180ea",
		"":                    "",
		" \u00a0 ":            "",
		"\xffa ":              "\xffa",
	}
	for in, want := range cases {
		if got := trim(in); got != want {
			t.Errorf("trim(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLowerASCIIOnly(t *testing.T) {
	for in, want := range map[string]string{"LEAD": "lead", "Custom_Event_1": "custom_event_1", "\u212aA": "\u212aa", "ÄB": "Äb"} {
		if got := lowerASCII(in); got != want {
			t.Errorf("lowerASCII(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsZeroNumber(t *testing.T) {
	for n, zero := range map[string]bool{"0": true, "-0": true, "0.0": true, "0e5": true, "0E-3": true, "1": false, "0.01": false, "-2e0": false, "10": false} {
		if isZeroNumber(n) != zero {
			t.Errorf("isZeroNumber(%s) != %v", n, zero)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"plain", "quote\" back\\slash", "ctl\x00\x1f\n\t\r", "é€😀", "bad\xffutf8", "\u2028"} {
		out := AppendJSONString(nil, s)
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

func TestAppendQueryEscape(t *testing.T) {
	for _, s := range []string{"a b&c=d", "é/?#%+", "plain-_.~"} {
		got := string(appendQueryEscape(nil, s))
		back, err := url.QueryUnescape(got)
		if err != nil || back != s {
			t.Errorf("%q → %q → %q %v", s, got, back, err)
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
