// Package jstext holds the text rules docs/BEHAVIOUR.md defines in JavaScript's terms,
// so that the engine and the hashing of contact data apply them identically.
package jstext

import "unicode/utf8"

// IsSpace reports whether r is trimmed by JavaScript's String.prototype.trim:
// ECMAScript WhiteSpace (TAB, VT, FF, ZWNBSP and every Zs) plus LineTerminator.
func IsSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// Trim removes leading and trailing whitespace exactly as JavaScript's trim
// does, without allocating.
func Trim(s string) string {
	for s != "" {
		if c := s[0]; c < utf8.RuneSelf {
			if !IsSpace(rune(c)) {
				break
			}
			s = s[1:]
			continue
		}
		r, n := utf8.DecodeRuneInString(s)
		if !IsSpace(r) {
			break
		}
		s = s[n:]
	}
	for s != "" {
		if c := s[len(s)-1]; c < utf8.RuneSelf {
			if !IsSpace(rune(c)) {
				break
			}
			s = s[:len(s)-1]
			continue
		}
		r, n := utf8.DecodeLastRuneInString(s)
		if !IsSpace(r) {
			break
		}
		s = s[:len(s)-n]
	}
	return s
}

// LowerASCII folds A–Z only, as docs/BEHAVIOUR.md asks; it allocates only when s has
// an upper-case ASCII letter.
func LowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
