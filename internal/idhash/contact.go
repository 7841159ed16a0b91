package idhash

import (
	"strings"
	"unicode/utf8"

	"spotifypixel/internal/jstext"
)

// Email normalises an email as Spotify's Conversions API expects (trimmed,
// ASCII lower-cased) and returns its SHA-256 hex; a value that already is 64
// hex characters is taken as a hash and only lower-cased. An email that is
// empty after trimming gives "", false.
func Email(email string) (string, bool) {
	e := jstext.Trim(email)
	if e == "" {
		return "", false
	}
	e = jstext.LowerASCII(e)
	if isHex64(e) {
		return e, true
	}
	return SHA256Hex(e), true
}

// Phone reduces a phone number to '+' and digits and returns its SHA-256
// hex; a number with no digit gives "", false.
func Phone(phone string) (string, bool) {
	var b strings.Builder
	digits := 0
	for i := 0; i < len(phone); i++ {
		c := phone[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			b.WriteByte(c)
		case c == '+':
			b.WriteByte(c)
		}
	}
	if digits == 0 {
		return "", false
	}
	return SHA256Hex(b.String()), true
}

func isHex64(s string) bool {
	if len(s) != 64 || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
