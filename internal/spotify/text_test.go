package spotify

import (
	"net/url"
	"testing"
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

func TestAppendQueryEscape(t *testing.T) {
	for _, s := range []string{"a b&c=d", "é/?#%+", "plain-_.~"} {
		got := string(appendQueryEscape(nil, s))
		back, err := url.QueryUnescape(got)
		if err != nil || back != s {
			t.Errorf("%q → %q → %q %v", s, got, back, err)
		}
	}
}
