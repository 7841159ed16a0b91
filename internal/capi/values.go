package capi

import (
	"math"
	"strconv"
	"strings"
	"time"

	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/jstext"
)

// present reports whether a raw JSON value counts as given: not absent,
// null or the empty string.
func present(raw string) bool { return raw != "" && raw != "null" && raw != `""` }

// stringOf returns the text of a raw JSON string value.
func stringOf(raw string) (string, bool) {
	if raw == "" || raw[0] != '"' {
		return "", false
	}
	return jsonscan.Value(raw).Str, true
}

// isNumber reports whether raw is a JSON number (the walk checked it).
func isNumber(raw string) bool { return raw != "" && (raw[0] == '-' || raw[0]-'0' < 10) }

// eventID is the call's event_id as text, "" when there is none.
func eventID(raw string) string {
	if s, ok := stringOf(raw); ok {
		return s
	}
	if isNumber(raw) {
		return raw
	}
	return ""
}

// amountOf renders a value as a JSON number: a number as written, a
// numeric string converted; anything else is no amount.
func amountOf(raw string) (string, bool) {
	if isNumber(raw) {
		return raw, true
	}
	s, ok := stringOf(raw)
	if !ok {
		return "", false
	}
	text := jstext.Trim(s)
	if !isDecimal(text) {
		return "", false
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		return "", false
	}
	return strconv.FormatFloat(f, 'f', -1, 64), true
}

// isDecimal reports whether s is a decimal number as JavaScript's Number
// reads one: a sign, digits with an optional point (".5" and "5." count),
// an optional exponent. Go's own syntax beyond it ("1_000", "0x1p4",
// "Inf", "NaN") is not a number here.
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < len(s) && s[i]-'0' < 10; i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && s[i]-'0' < 10; i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for ; i < len(s) && s[i]-'0' < 10; i++ {
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}

// stripPort removes a port from "1.2.3.4:80" and "[::1]:80"; a bare IPv6
// address keeps its colons.
func stripPort(ip string) string {
	if strings.HasPrefix(ip, "[") {
		if end := strings.IndexByte(ip, ']'); end > 0 {
			return ip[1:end]
		}
		return ip
	}
	if strings.Count(ip, ":") == 1 {
		return ip[:strings.IndexByte(ip, ':')]
	}
	return ip
}

// eventTime is the first present of the event's times, else now; an
// unparseable or future time means now.
func eventTime(times [3]string, now time.Time) time.Time {
	for _, raw := range times {
		if !present(raw) {
			continue
		}
		when, ok := parseTime(raw)
		if !ok || when.After(now) {
			return now
		}
		return when
	}
	return now
}

// timeLayouts are the string forms of time accepted.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02"}

// parseTime reads an ISO 8601 string (a zone-less one is UTC) or a number of
// milliseconds since the Unix epoch, as JavaScript's Date does.
func parseTime(raw string) (time.Time, bool) {
	if s, ok := stringOf(raw); ok {
		s = jstext.Trim(s)
		for _, layout := range timeLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return t, true
			}
		}
		return time.Time{}, false
	}
	if isNumber(raw) {
		ms, err := strconv.ParseFloat(raw, 64)
		if err == nil && !math.IsInf(ms, 0) && math.Abs(ms) <= 8.64e15 {
			return time.UnixMilli(int64(ms)).UTC(), true
		}
	}
	return time.Time{}, false
}
