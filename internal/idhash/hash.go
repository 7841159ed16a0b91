// Package idhash turns user identifiers into the SHA-256 hex digests that
// Spotify's alias call and Conversions API expect.
package idhash

import (
	"crypto/sha256"
	"encoding/hex"
)

// AppendSHA256Hex appends the lowercase hex SHA-256 of s's bytes to dst, so
// callers on a hot path can hash without allocating.
func AppendSHA256Hex(dst []byte, s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return hex.AppendEncode(dst, sum[:])
}

// SHA256Hex returns the lowercase hex SHA-256 of s's bytes, for callers that
// want a string rather than an appended slice.
func SHA256Hex(s string) string {
	return string(AppendSHA256Hex(make([]byte, 0, 64), s))
}
