package rudder

import (
	"spotifypixel/internal/jsonscan"
	"strings"
	"unicode"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Dynamic config, as rudder-transformer resolves it before a destination
// sees an event: a string anywhere in destination.Config whose trimmed text
// is {{ path || default }} is replaced, per event, by the value at path (a
// dot path into the request element; a leading "event." means "message."),
// or, when that value is missing or null, by default with every double
// quote removed and trimmed. A value taken from the message is removed from
// the message, as rudder-transformer does (so that, say, a pixel id carried
// in properties does not also become a view parameter). Any other string is
// left as is. A destination with "hasDynamicConfig": false is not scanned.

// template is a parsed {{ path || default }}.
type template struct {
	path string // already rewritten: event.x → message.x
	def  string // quotes removed, trimmed
}

// parseTemplate recognises a dynamic config string.
func parseTemplate(s string) (template, bool) {
	if !strings.Contains(s, "{{") {
		return template{}, false
	}
	t := jsTrim(s)
	if !strings.HasPrefix(t, "{{") || !strings.HasSuffix(t, "}}") || len(t) < 4 {
		return template{}, false
	}
	content := jsTrim(t[2 : len(t)-2])
	sep := strings.Index(content, "||")
	if sep < 0 {
		return template{}, false
	}
	path := jsTrim(content[:sep])
	if !validPath(path) {
		return template{}, false
	}
	if rest, ok := strings.CutPrefix(path, "event."); ok {
		path = "message." + rest
	}
	def := jsTrim(strings.ReplaceAll(content[sep+2:], `"`, ""))
	return template{path: path, def: def}, true
}

// validPath accepts dot-separated segments that each start with an ASCII
// letter or underscore and go on with ASCII letters, digits and underscores.
func validPath(p string) bool {
	if p == "" {
		return false
	}
	for _, seg := range strings.Split(p, ".") {
		if seg == "" {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			word := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
			if !word && (i == 0 || c < '0' || c > '9') {
				return false
			}
		}
	}
	return true
}

// jsTrim is JavaScript's String.prototype.trim: Unicode White_Space and line
// terminators plus U+FEFF, but not U+0085.
func jsTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return r == '\uFEFF' || r != '\u0085' && unicode.IsSpace(r)
	})
}

// mayHaveTemplate is a cheap filter: a config without "{{" (or an escape
// that could spell it) has nothing to resolve.
func mayHaveTemplate(raw string) bool {
	return strings.Contains(raw, "{{") || strings.Contains(raw, `\u`)
}

// resolver resolves the templates of one item's config.
type resolver struct {
	it      *item
	message string // the message, minus the values taken from it
	gone    bool   // the whole message was taken
	changed bool   // a template was resolved
}

// resolveConfig returns the item's config with its templates resolved and
// the message to transform. When nothing was resolved they are the item's
// own (changed is false).
func resolveConfig(it *item, cfg gjson.Result) (config, message string, changed bool) {
	if hd := it.destination.Get("hasDynamicConfig"); hd.Type == gjson.False || !mayHaveTemplate(cfg.Raw) {
		return cfg.Raw, it.message.Raw, false
	}
	res := &resolver{it: it, message: it.message.Raw}
	out := res.appendValue(make([]byte, 0, len(cfg.Raw)+16), cfg)
	if !res.changed {
		return cfg.Raw, it.message.Raw, false
	}
	if res.gone {
		res.message = ""
	}
	return string(out), res.message, true
}

// appendValue appends v with every template string resolved.
func (res *resolver) appendValue(dst []byte, v gjson.Result) []byte {
	switch {
	case v.IsObject():
		dst = append(dst, '{')
		n := 0
		v.ForEach(func(k, val gjson.Result) bool {
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = append(dst, k.Raw...)
			dst = append(dst, ':')
			dst = res.appendValue(dst, val)
			return true
		})
		return append(dst, '}')
	case v.IsArray():
		dst = append(dst, '[')
		n := 0
		v.ForEach(func(_, val gjson.Result) bool {
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = res.appendValue(dst, val)
			return true
		})
		return append(dst, ']')
	case v.Type == gjson.String:
		if t, ok := parseTemplate(v.Str); ok {
			res.changed = true
			if val, found := res.lookup(t.path); found {
				return append(dst, val...)
			}
			return jsonscan.AppendString(dst, t.def)
		}
	}
	return append(dst, v.Raw...)
}

// lookup finds path in the item and returns the raw JSON of a present
// (not missing, not null) value. A value found in the message is removed
// from it; values found elsewhere (metadata, destination) are left alone,
// since metadata goes back to rudder-server untouched.
func (res *resolver) lookup(path string) (string, bool) {
	first, rest, nested := strings.Cut(path, ".")
	var v gjson.Result
	switch first {
	case "message":
		if res.gone {
			return "", false
		}
		if !nested {
			v = gjson.Parse(res.message)
			if !found(v) {
				return "", false
			}
			res.gone = true
			return v.Raw, true
		}
		v = gjson.Get(res.message, rest)
		if !found(v) {
			return "", false
		}
		if s, err := sjson.Delete(res.message, rest); err == nil {
			res.message = s
		}
		return v.Raw, true
	case "destination":
		if nested {
			v = res.it.destination.Get(rest)
		} else {
			v = res.it.destination
		}
	default:
		v = gjson.Get(res.it.raw, path)
	}
	return v.Raw, found(v)
}

func found(v gjson.Result) bool { return v.Exists() && v.Type != gjson.Null }
