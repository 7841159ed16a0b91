package spotify

import (
	"spotifypixel/internal/jsonscan"
)

// Objects that repeat a key are read as JavaScript's JSON.parse reads them
// (BEHAVIOUR.md §2.1): the last occurrence's value wins, at the place of the
// first occurrence. The event walk gets this by letting a later member
// overwrite its slot; text that the engine copies whole into its output (an
// object or array value) is rewritten here so that no output object repeats
// a key. Both functions take text already checked as JSON.

// smallObject is how many keys an object may have before repeats are found
// with a map instead of by comparing each key with those before it.
const smallObject = 16

// hasRepeatedKeys reports whether any object within the JSON value raw
// repeats a key (compared unescaped, so "a" and "\u0061" are the same key).
// It reads each byte once, however deep the value nests.
func hasRepeatedKeys(raw string) bool {
	if raw == "" || (raw[0] != '{' && raw[0] != '[') {
		return false
	}
	_, repeated := scanRepeats(raw, 0)
	return repeated
}

// scanRepeats walks the value at s[i] and returns the index just past it and
// whether an object within it repeats a key (the walk stops at the first).
func scanRepeats(s string, i int) (int, bool) {
	switch s[i] {
	case '{':
		var keys keySet
		repeated := false
		end := jsonscan.Members(s, i, jsonscan.NoLimit, func(key, _ string, vs int) int {
			ve, inner := scanRepeats(s, vs)
			if repeated = keys.add(key) || inner; repeated {
				return -1
			}
			return ve
		})
		return end, repeated
	case '[':
		repeated := false
		end := jsonscan.Elements(s, i, func(at int) int {
			ve, inner := scanRepeats(s, at)
			if repeated = inner; repeated {
				return -1
			}
			return ve
		})
		return end, repeated
	}
	return jsonscan.SkipValue(s, i, jsonscan.NoLimit), false
}

// keySet holds the keys of one object seen so far: a few in an array
// compared in turn, more in a map.
type keySet struct {
	small [smallObject]string
	n     int
	large map[string]struct{}
}

// add adds key and reports whether the object had it already.
func (k *keySet) add(key string) bool {
	if k.large != nil {
		_, seen := k.large[key]
		k.large[key] = struct{}{}
		return seen
	}
	for _, x := range k.small[:k.n] {
		if x == key {
			return true
		}
	}
	if k.n < smallObject {
		k.small[k.n] = key
		k.n++
		return false
	}
	k.large = make(map[string]struct{}, 4*smallObject)
	for _, x := range k.small {
		k.large[x] = struct{}{}
	}
	k.large[key] = struct{}{}
	return false
}

// canonical returns raw with every repeated key given once, or raw itself
// when no object within it repeats a key (the common case: no copy).
func canonical(raw string) string {
	if !hasRepeatedKeys(raw) {
		return raw
	}
	return string(appendCanonical(make([]byte, 0, len(raw)), raw))
}

// Canonical returns the JSON text s with every object's repeated keys given
// once, as JSON.parse reads them, so that a front which reads a body with
// gjson (where the first occurrence wins) reads what rudder-server and
// rudder-transformer read; s itself when nothing repeats. s must be checked
// JSON.
func Canonical(s string) string {
	i := jsonscan.SkipWS(s, 0)
	if i >= len(s) || !hasRepeatedKeys(s[i:]) {
		return s
	}
	return string(appendCanonical(make([]byte, 0, len(s)), s[i:]))
}

// appendCanonical appends the checked JSON value raw with each object's
// members in the order of their keys' first occurrences, each with its last
// value. Arrays and objects in which no key repeats are copied as written.
// Every array and object is first indexed in one pass (where it ends,
// whether a key repeats within it), so that the rewrite too reads each byte
// a bounded number of times, however deep the value nests.
func appendCanonical(dst []byte, raw string) []byte {
	c := canonicalizer{s: raw}
	c.index(0)
	return c.append(dst, 0)
}

// span is where one array or object stands in a text, and whether a key
// repeats within it.
type span struct {
	start, end int
	repeats    bool
}

// canonicalizer rewrites one text with its containers indexed.
type canonicalizer struct {
	s     string
	spans []span // every array and object, in the order in which they open
}

// index walks the value at s[i], adding its arrays and objects to spans,
// and returns the index just past it and whether a key repeats within it.
func (c *canonicalizer) index(i int) (int, bool) {
	s := c.s
	if s[i] != '{' && s[i] != '[' {
		return jsonscan.SkipValue(s, i, jsonscan.NoLimit), false
	}
	at := len(c.spans)
	c.spans = append(c.spans, span{start: i})
	repeated := false
	var end int
	if s[i] == '{' {
		var keys keySet
		end = jsonscan.Members(s, i, jsonscan.NoLimit, func(key, _ string, vs int) int {
			ve, inner := c.index(vs)
			repeated = keys.add(key) || inner || repeated
			return ve
		})
	} else {
		end = jsonscan.Elements(s, i, func(at int) int {
			ve, inner := c.index(at)
			repeated = repeated || inner
			return ve
		})
	}
	c.spans[at].end, c.spans[at].repeats = end, repeated
	return end, repeated
}

// container returns the span of the array or object that opens at s[i].
func (c *canonicalizer) container(i int) span {
	lo, hi := 0, len(c.spans)
	for lo < hi {
		if m := int(uint(lo+hi) >> 1); c.spans[m].start < i {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return c.spans[lo]
}

// end returns the index just past the value at s[i].
func (c *canonicalizer) end(i int) int {
	if b := c.s[i]; b != '{' && b != '[' {
		return jsonscan.SkipValue(c.s, i, jsonscan.NoLimit)
	}
	return c.container(i).end
}

// canonMember is one member of an object being rewritten.
type canonMember struct {
	key, rawKey string
	vs          int // where the value starts
	last        int // index of the member holding this key's last value, -1: itself
	repeat      bool
}

func (c *canonicalizer) append(dst []byte, i int) []byte {
	s := c.s
	if b := s[i]; b == '{' || b == '[' {
		if sp := c.container(i); !sp.repeats {
			return append(dst, s[i:sp.end]...)
		}
	}
	switch s[i] {
	case '[':
		dst = append(dst, '[')
		n := 0
		jsonscan.Elements(s, i, func(at int) int {
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = c.append(dst, at)
			return c.end(at)
		})
		return append(dst, ']')
	case '{':
		return c.appendObject(dst, i)
	}
	return append(dst, s[i:c.end(i)]...)
}

func (c *canonicalizer) appendObject(dst []byte, i int) []byte {
	var list []canonMember
	first := map[string]int{}
	jsonscan.Members(c.s, i, jsonscan.NoLimit, func(key, rawKey string, vs int) int {
		m := canonMember{key: key, rawKey: rawKey, vs: vs, last: -1}
		if f, ok := first[key]; ok {
			list[f].last, m.repeat = len(list), true
		} else {
			first[key] = len(list)
		}
		list = append(list, m)
		return c.end(vs)
	})
	dst = append(dst, '{')
	n := 0
	for _, m := range list {
		if m.repeat {
			continue
		}
		vs := m.vs
		if m.last >= 0 {
			vs = list[m.last].vs
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, m.rawKey...)
		dst = append(dst, ':')
		dst = c.append(dst, vs)
	}
	return append(dst, '}')
}
