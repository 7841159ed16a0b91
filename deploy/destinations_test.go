package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// destinationKeys are the keys a destination's Config may have (docs/BEHAVIOUR.md §2.2,
// and docs/BEHAVIOUR.md §8 for the CAPI keys).
var destinationKeys = map[string]bool{
	"pixelId": true, "eventsToSpotifyPixelEvents": true, "enableAliasCall": true,
	"eventFilteringOption": true, "whitelistedEvents": true, "blacklistedEvents": true,
	"oneTrustCookieCategories": true, "ketchConsentPurposes": true, "consentManagement": true,
	"capiConnectionId": true, "capiAccessToken": true, // docs/BEHAVIOUR.md §8
}

// validateDestinations checks a destinations file against docs/BEHAVIOUR.md §2.2 (the
// server ignores unknown keys; here a typo is an error) and returns its ids.
func validateDestinations(t *testing.T, name string, data []byte) []string {
	t.Helper()
	var dests map[string]struct {
		Config map[string]json.RawMessage `json:"Config"`
	}
	if err := yaml.UnmarshalStrict(data, &dests); err != nil {
		t.Errorf("%s: not a map id -> {Config: {...}}: %v", name, err)
		return nil
	}
	var ids []string
	for id, d := range dests {
		ids = append(ids, id)
		where := fmt.Sprintf("%s: destination %q", name, id)
		if d.Config == nil {
			t.Errorf("%s has no Config", where)
			continue
		}
		for k := range d.Config {
			if !destinationKeys[k] {
				t.Errorf("%s: unknown config key %q (docs/BEHAVIOUR.md §2.2)", where, k)
			}
		}
		var pixel string
		if err := json.Unmarshal(d.Config["pixelId"], &pixel); err != nil || len([]rune(strings.TrimSpace(pixel))) == 0 || len([]rune(strings.TrimSpace(pixel))) > 100 {
			t.Errorf("%s: pixelId must be a string of 1..100 characters", where)
		}
		if raw, ok := d.Config["enableAliasCall"]; ok {
			var b bool
			if json.Unmarshal(raw, &b) != nil {
				t.Errorf("%s: enableAliasCall must be a boolean", where)
			}
		}
		if raw, ok := d.Config["eventFilteringOption"]; ok {
			var s string
			_ = json.Unmarshal(raw, &s)
			if s != "disable" && s != "whitelistedEvents" && s != "blacklistedEvents" {
				t.Errorf("%s: eventFilteringOption %s", where, raw)
			}
		}
		checkList := func(key string, fields ...string) {
			raw, ok := d.Config[key]
			if !ok {
				return
			}
			var list []map[string]json.RawMessage
			if err := json.Unmarshal(raw, &list); err != nil {
				var byType map[string][]map[string]json.RawMessage
				if err2 := json.Unmarshal(raw, &byType); err2 != nil || (key != "oneTrustCookieCategories" && key != "ketchConsentPurposes" && key != "consentManagement") {
					t.Errorf("%s: %s must be an array of {%s}", where, key, strings.Join(fields, ", "))
					return
				}
				list = byType["web"]
			}
			for _, e := range list {
				for k := range e {
					if !contains(fields, k) {
						t.Errorf("%s: %s entry has unknown key %q (want %v)", where, key, k, fields)
					}
				}
			}
		}
		checkList("eventsToSpotifyPixelEvents", "from", "to")
		checkList("whitelistedEvents", "eventName")
		checkList("blacklistedEvents", "eventName")
		checkList("oneTrustCookieCategories", "oneTrustCookieCategory")
		checkList("ketchConsentPurposes", "purpose")
		checkList("consentManagement", "provider", "consents", "resolutionStrategy")
	}
	sort.Strings(ids)
	return ids
}

// TestExampleDestinationsFile checks that destinations.example.yaml is a
// valid destinations file with at least two destinations.
func TestExampleDestinationsFile(t *testing.T) {
	data, err := os.ReadFile(exampleDestFile)
	if err != nil {
		t.Fatal(err)
	}
	ids := validateDestinations(t, exampleDestFile, data)
	if len(ids) < 2 {
		t.Errorf("%s defines %d destinations, want 2", exampleDestFile, len(ids))
	}
}
