package spotify

import (
	"github.com/tidwall/gjson"

	"spotifypixel/internal/jstext"
)

// trim is JavaScript's String.prototype.trim (docs/BEHAVIOUR.md §2.1).
func trim(s string) string { return jstext.Trim(s) }

// lowerASCII folds A–Z only (docs/BEHAVIOUR.md §2.1).
func lowerASCII(s string) string { return jstext.LowerASCII(s) }

// equalFoldASCII compares a and b ignoring ASCII case only.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// present reports whether v counts as a value: not missing, not null, not "".
func present(v gjson.Result) bool {
	switch v.Type {
	case gjson.Null:
		return false
	case gjson.String:
		return v.Raw != `""`
	}
	return v.Exists()
}

// isNonEmptyString reports whether v is a JSON string with at least one byte.
func isNonEmptyString(v gjson.Result) bool { return v.Type == gjson.String && v.Str != "" }

// isZeroNumber reports whether the JSON number text n denotes zero (0, -0, 0.0, 0e9).
func isZeroNumber(n string) bool {
	for i := 0; i < len(n); i++ {
		switch c := n[i]; {
		case c == 'e' || c == 'E':
			return true
		case c >= '1' && c <= '9':
			return false
		}
	}
	return true
}

// appendQueryEscape appends s percent-encoded for a URL query value
// (everything but unreserved characters is escaped).
func appendQueryEscape(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&0xF])
	}
	return dst
}
