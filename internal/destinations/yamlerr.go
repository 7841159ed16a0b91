package destinations

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// lineRE finds the first line number in a YAML error message.
var lineRE = regexp.MustCompile(`line (\d+)`)

// yamlError restates a YAML decoding failure by line and key only, because
// YAML's own messages quote the offending value (a CAPI token, say) or an
// anchor's or key's text. root is the parsed document, nil when it did not
// parse.
func yamlError(root *yaml.Node, err error) error {
	line := 0
	if m := lineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	if root == nil {
		if line > 0 {
			return fmt.Errorf("line %d: not valid YAML", line)
		}
		return errors.New("not valid YAML")
	}
	doc := root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: the document must map destination ids to {Config: ...}", doc.Line)
	}
	if n, path := badNode(doc, ""); n != nil {
		return fmt.Errorf("line %d: %s: the value cannot be decoded (a YAML tag that does not fit it, or a key that is not a string)", n.Line, path)
	}
	if strings.Contains(err.Error(), "already defined") {
		return fmt.Errorf("line %d: %s is defined twice", line, keyAt(doc, line, ""))
	}
	if line > 0 {
		return fmt.Errorf("line %d: not a valid destinations document", line)
	}
	return errors.New("not a valid destinations document")
}

// badNode returns the first node under n, in document order, that does not
// decode on its own, with the dotted path of keys that leads to it.
func badNode(n *yaml.Node, path string) (*yaml.Node, string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			var key string
			if k.Kind != yaml.ScalarNode || k.Decode(&key) != nil {
				return k, join(path, "a key")
			}
			if bad, p := badNode(v, join(path, key)); bad != nil {
				return bad, p
			}
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			if bad, p := badNode(v, path+"["+strconv.Itoa(i)+"]"); bad != nil {
				return bad, p
			}
		}
	default:
		var v any
		if n.Decode(&v) != nil {
			return n, path
		}
	}
	return nil, ""
}

// keyAt names the path of the mapping key written at line, or "a key".
func keyAt(n *yaml.Node, line int, path string) string {
	if n.Kind == yaml.SequenceNode {
		for _, v := range n.Content {
			if k := keyAt(v, line, path); k != "a key" {
				return k
			}
		}
	}
	if n.Kind != yaml.MappingNode {
		return "a key"
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if k.Line == line {
			return join(path, k.Value)
		}
		if found := keyAt(v, line, join(path, k.Value)); found != "a key" {
			return found
		}
	}
	return "a key"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
