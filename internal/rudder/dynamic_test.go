package rudder

import (
	"testing"

	"github.com/tidwall/gjson"
)

func TestParseTemplate(t *testing.T) {
	cases := []struct {
		in        string
		ok        bool
		path, def string
	}{
		{`{{ message.context.ip || "1.1.1.1" }}`, true, "message.context.ip", "1.1.1.1"},
		{`  {{message.a||b}}  `, true, "message.a", "b"},
		{`{{ event.properties.x || "d" }}`, true, "message.properties.x", "d"},
		{`{{ metadata.sourceId || "" }}`, true, "metadata.sourceId", ""},
		{`{{ a || "x" "y" }}`, true, "a", "x y"},
		{`{{ a || 'single' }}`, true, "a", "'single'"},
		{`{{ a || b || c }}`, true, "a", "b || c"},
		{"\u00a0\ufeff{{ a || \" padded \" }}\u2028", true, "a", "padded"},
		{`{{ message.a }}`, false, "", ""},
		{`{{ || "x" }}`, false, "", ""},
		{`{{ message..a || "x" }}`, false, "", ""},
		{`{{ message.0a || "x" }}`, false, "", ""},
		{`{{ message.a-b || "x" }}`, false, "", ""},
		{`{{ message.é || "x" }}`, false, "", ""},
		{`x {{ message.a || "x" }}`, false, "", ""},
		{`{{ message.a || "x" }} y`, false, "", ""},
		{`{{}}`, false, "", ""},
		{`plain`, false, "", ""},
		{"\u0085{{ a || b }}", false, "", ""}, // U+0085 is not JavaScript whitespace
	}
	for _, c := range cases {
		tp, ok := parseTemplate(c.in)
		if ok != c.ok || ok && (tp.path != c.path || tp.def != c.def) {
			t.Errorf("parseTemplate(%q) = %+v %v, want %q %q %v", c.in, tp, ok, c.path, c.def, c.ok)
		}
	}
}

func resolve(t *testing.T, element string) (config, message string, changed bool) {
	t.Helper()
	el := gjson.Parse(element)
	it := &item{raw: el.Raw, message: el.Get("message"), metadata: el.Get("metadata"), destination: el.Get("destination")}
	c, m, ch := resolveConfig(it, it.destination.Get("Config"))
	return c, m, ch
}

func TestResolveConfig(t *testing.T) {
	cases := []struct {
		name, element   string
		config, message string
		changed         bool
	}{
		{"value from the message is taken out of it",
			`{"message":{"context":{"pid":"px-1","ip":"9"}},"destination":{"Config":{"pixelId":"{{ message.context.pid || \"d\" }}","n":1}}}`,
			`{"pixelId":"px-1","n":1}`, `{"context":{"ip":"9"}}`, true},
		{"null falls back to the default",
			`{"message":{"context":{"pid":null}},"destination":{"Config":{"pixelId":"{{ message.context.pid || \"d\" }}"}}}`,
			`{"pixelId":"d"}`, `{"context":{"pid":null}}`, true},
		{"any JSON value is taken as is",
			`{"message":{"p":{"alias":true,"list":[1,2]}},"destination":{"Config":{"enableAliasCall":"{{ event.p.alias || \"false\" }}","l":["{{ message.p.list || x }}"]}}}`,
			`{"enableAliasCall":true,"l":[[1,2]]}`, `{"p":{}}`, true},
		{"metadata is read but left alone",
			`{"message":{},"metadata":{"sourceType":"web"},"destination":{"Config":{"k":"{{ metadata.sourceType || \"x\" }}"}}}`,
			`{"k":"web"}`, `{}`, true},
		{"a value is taken once",
			`{"message":{"a":"v"},"destination":{"Config":{"x":"{{ message.a || \"d1\" }}","y":"{{ message.a || \"d2\" }}"}}}`,
			`{"x":"v","y":"d2"}`, `{}`, true},
		{"hasDynamicConfig false skips resolution",
			`{"message":{"a":"v"},"destination":{"hasDynamicConfig":false,"Config":{"x":"{{ message.a || \"d\" }}"}}}`,
			`{"x":"{{ message.a || \"d\" }}"}`, `{"a":"v"}`, false},
		{"no template: the config is kept byte for byte",
			`{"message":{"a":"v"},"destination":{"Config":{ "x" : "{{ no separator }}" }}}`,
			`{ "x" : "{{ no separator }}" }`, `{"a":"v"}`, false},
		{"escaped braces are templates too",
			`{"message":{"a":"v"},"destination":{"Config":{"x":"\u007b{ message.a || d }}"}}}`,
			`{"x":"v"}`, `{}`, true},
		{"the whole message can be taken",
			`{"message":{"a":1},"destination":{"Config":{"x":"{{ message || d }}","y":"{{ message.a || d2 }}"}}}`,
			`{"x":{"a":1},"y":"d2"}`, ``, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			config, message, changed := resolve(t, c.element)
			if config != c.config || message != c.message || changed != c.changed {
				t.Errorf("got config %s message %q changed %v\nwant config %s message %q changed %v", config, message, changed, c.config, c.message, c.changed)
			}
		})
	}
}

func TestJSTrim(t *testing.T) {
	for in, want := range map[string]string{
		" \t\n\r\v\f x \u00a0": "x", //nolint:gocritic // the whitespace around the key is what is trimmed
		"\ufeffx\u3000":        "x",
		"\u0085x\u0085":        "\u0085x\u0085",
		"\u2028x\u2029":        "x",
	} {
		if got := jsTrim(in); got != want {
			t.Errorf("jsTrim(%q) = %q, want %q", in, got, want)
		}
	}
}
