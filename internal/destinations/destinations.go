// Package destinations holds the configured Spotify Pixel destinations: it
// parses the destinations file (JSON or YAML), validates every config with the
// engine, and swaps in new generations atomically on reload.
package destinations

import (
	"bytes"
	"cmp"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/tidwall/gjson"
	"go.yaml.in/yaml/v3"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/jsonscan"
	"spotifypixel/internal/spotify"
)

//go:embed demo.yaml
var demoFile []byte

// DemoID is the id of the embedded destination served without a file.
const DemoID = "demo"

// Destination is one configured destination, validated once.
type Destination struct {
	ID     string
	Config *spotify.Config
}

// Set is one generation of destinations; it is immutable once built.
type Set struct {
	Generation uint64
	Source     string // the file it came from, or "embedded"
	byID       map[string]*Destination
}

// Get returns the destination with id, or a NotFound error naming it.
func (s *Set) Get(id string) (*Destination, error) {
	if d, ok := s.byID[id]; ok {
		return d, nil
	}
	return nil, apperr.Redacted(apperr.NotFound, "destination unknown is not configured", "destination %q is not configured", id)
}

// IDs lists the configured destination ids in sorted order.
func (s *Set) IDs() []string {
	ids := make([]string, 0, len(s.byID))
	for id := range s.byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Len is the number of destinations.
func (s *Set) Len() int { return len(s.byID) }

// errBeingWritten is the reason a file some process holds open for writing
// is not read: it may be half-written.
var errBeingWritten = apperr.New(apperr.Unavailable, "the file is open for writing by a process, so it may be half-written")

// IsBeingWritten reports whether err is a load refused because a process
// still held the file open for writing, which a later attempt may pass.
func IsBeingWritten(err error) bool { return errors.Is(err, errBeingWritten) }

// Load reads and validates the destinations file at path; an empty path
// gives the embedded demo destination.
func Load(path string) (*Set, error) {
	if path == "" {
		return Parse(demoFile, "embedded")
	}
	data, err := readWhole(path)
	if err != nil {
		return nil, fmt.Errorf("reading destinations file %s: %w", path, err)
	}
	return Parse(data, path)
}

// Parse validates a destinations document, JSON or YAML, mapping each id to
// {"Config": {...}}. The error names the destination and the config key.
// A JSON document is read as JSON, each Config kept as written, so that a
// config behaves exactly as it does sent inline (YAML would reject some JSON
// escapes, such as \/ and surrogate pairs, and change some characters).
func Parse(data []byte, source string) (*Set, error) {
	data = jsonscan.TrimBOM(data)
	var (
		configs map[string][]byte // id → the Config's JSON text; nil when the entry is not an object
		err     error
	)
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		configs, err = decodeJSON(data)
	} else {
		configs, err = decodeYAML(data)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: parsing destinations: %w", source, err)
	}
	if len(configs) == 0 {
		return nil, fmt.Errorf("%s: no destinations defined", source)
	}
	set := &Set{Source: source, byID: make(map[string]*Destination, len(configs))}
	for _, id := range sortedKeys(configs) {
		raw := configs[id]
		if raw == nil {
			return nil, fmt.Errorf("%s: destination %q must be an object with a Config", source, id)
		}
		cfg, err := spotify.ParseConfig(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: destination %q: %w", source, id, err)
		}
		set.byID[id] = &Destination{ID: id, Config: cfg}
	}
	return set, nil
}

// decodeJSON reads a JSON destinations document; an id given twice is an
// error, as it is in YAML.
func decodeJSON(data []byte) (map[string][]byte, error) {
	if e := jsonscan.CheckBytes(data, jsonscan.MaxDepth); e != nil {
		return nil, errors.New("the document " + e.Error())
	}
	configs := map[string][]byte{}
	var err error
	gjson.ParseBytes(data).ForEach(func(k, v gjson.Result) bool {
		if _, dup := configs[k.Str]; dup {
			err = fmt.Errorf("destination %q is defined twice", k.Str)
			return false
		}
		configs[k.Str] = nil
		if v.IsObject() {
			// A repeated Config key: the last wins, as JSON.parse reads it.
			configs[k.Str] = []byte(cmp.Or(gjson.Get(spotify.Canonical(v.Raw), "Config").Raw, "null"))
		}
		return true
	})
	return configs, err
}

// decodeYAML reads a YAML destinations document, each Config re-encoded as
// JSON for the engine; its errors name lines and keys, never values.
func decodeYAML(data []byte) (map[string][]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(nil, err)
	}
	var doc map[string]any
	if err := root.Decode(&doc); err != nil {
		return nil, yamlError(&root, err)
	}
	configs := make(map[string][]byte, len(doc))
	for id, v := range doc {
		configs[id] = nil
		if entry, ok := v.(map[string]any); ok {
			raw, err := json.Marshal(entry["Config"])
			if err != nil {
				// json's message may hold a value (an unsupported number).
				return nil, fmt.Errorf("destination %q: Config cannot be written as JSON", id)
			}
			configs[id] = raw
		}
	}
	return configs, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
