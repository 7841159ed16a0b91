// Package destinations holds the configured Spotify Pixel destinations: it
// parses the destinations file (JSON or YAML), validates every config with the
// engine, and swaps in new generations atomically on reload.
package destinations

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"go.yaml.in/yaml/v3"

	"spotifypixel/internal/apperr"
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
	return nil, apperr.New(apperr.NotFound, "destination %q is not configured", id)
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

// Load reads and validates the destinations file at path; an empty path
// gives the embedded demo destination.
func Load(path string) (*Set, error) {
	if path == "" {
		return Parse(demoFile, "embedded")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading destinations file: %w", err)
	}
	return Parse(data, path)
}

// Parse validates a destinations document, JSON or YAML, mapping each id to
// {"Config": {...}}. The error names the destination and the config key.
func Parse(data []byte, source string) (*Set, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: parsing destinations: %w", source, err)
	}
	if len(doc) == 0 {
		return nil, fmt.Errorf("%s: no destinations defined", source)
	}
	set := &Set{Source: source, byID: make(map[string]*Destination, len(doc))}
	for _, id := range sortedKeys(doc) {
		entry, ok := doc[id].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: destination %q must be an object with a Config", source, id)
		}
		raw, err := json.Marshal(entry["Config"])
		if err != nil {
			return nil, fmt.Errorf("%s: destination %q: encoding Config: %w", source, id, err)
		}
		cfg, err := spotify.ParseConfig(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: destination %q: %w", source, id, err)
		}
		set.byID[id] = &Destination{ID: id, Config: cfg}
	}
	return set, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
