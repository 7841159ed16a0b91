package corpus

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// sdkEvent is what the test checks of a generated event.
type sdkEvent struct {
	Type              string         `json:"type"`
	Event             string         `json:"event"`
	MessageID         string         `json:"messageId"`
	AnonymousID       string         `json:"anonymousId"`
	RudderID          string         `json:"rudderId"`
	Channel           string         `json:"channel"`
	OriginalTimestamp string         `json:"originalTimestamp"`
	SentAt            string         `json:"sentAt"`
	Properties        map[string]any `json:"properties"`
	Context           struct {
		Library struct {
			Name, Version string
		} `json:"library"`
		Page struct {
			Path, Referrer, Search, Title, URL *string
		} `json:"page"`
		UserAgent         string         `json:"userAgent"`
		Locale            string         `json:"locale"`
		Screen            map[string]any `json:"screen"`
		Traits            map[string]any `json:"traits"`
		ConsentManagement *struct {
			DeniedConsentIDs   []string `json:"deniedConsentIds"`
			Provider           string   `json:"provider"`
			ResolutionStrategy string   `json:"resolutionStrategy"`
		} `json:"consentManagement"`
	} `json:"context"`
	Integrations map[string]any `json:"integrations"`
}

func TestEvents(t *testing.T) {
	const n = 5000
	events := Events(42, n)
	if len(events) != n {
		t.Fatalf("got %d events, want %d", len(events), n)
	}
	ids := map[string]bool{}
	counts := map[string]int{}
	large, consent, withProducts := 0, 0, 0
	for i, b := range events {
		if !json.Valid(b) || !utf8.Valid(b) {
			t.Fatalf("event %d is not valid JSON: %s", i, b)
		}
		var e sdkEvent
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		products, _ := e.Properties["products"].([]any)
		if len(products) > 0 {
			withProducts++
		}
		switch {
		case len(b) < MinEventBytes:
			t.Errorf("event %d is %d bytes, under %d: %s", i, len(b), MinEventBytes, b)
		case len(products) >= 10 && e.Event == "Product Added":
			large++
			if len(b) > MaxLargeEventBytes {
				t.Errorf("large cart %d is %d bytes, over %d", i, len(b), MaxLargeEventBytes)
			}
			if len(products) > 50 {
				t.Errorf("large cart %d has %d products", i, len(products))
			}
		case len(b) > MaxEventBytes:
			t.Errorf("event %d is %d bytes, over %d: %s", i, len(b), MaxEventBytes, b)
		}
		if e.MessageID == "" || ids[e.MessageID] {
			t.Errorf("event %d: messageId %q missing or repeated", i, e.MessageID)
		}
		ids[e.MessageID] = true
		if e.AnonymousID == "" || e.RudderID == "" || e.Channel != "web" || e.OriginalTimestamp == "" || e.SentAt == "" {
			t.Errorf("event %d lacks SDK fields: %s", i, b)
		}
		c := &e.Context
		if c.Library.Name == "" || c.Library.Version == "" || c.UserAgent == "" || c.Locale == "" || c.Screen == nil || c.Traits == nil {
			t.Errorf("event %d lacks context fields: %s", i, b)
		}
		if p := c.Page; p.Path == nil || p.Referrer == nil || p.Search == nil || p.Title == nil || p.URL == nil {
			t.Errorf("event %d lacks context.page fields: %s", i, b)
		}
		if c.ConsentManagement != nil {
			consent++
			if c.ConsentManagement.Provider == "" || c.ConsentManagement.DeniedConsentIDs == nil {
				t.Errorf("event %d: incomplete consentManagement: %s", i, b)
			}
		}
		switch e.Type {
		case "page", "identify":
			counts[e.Type]++
		case "track":
			switch e.Event {
			case "Product Viewed", "Product Added", "Checkout Started", "Order Completed", "Signed Up", "Newsletter Subscribed":
				counts["conversion"]++
			default:
				counts["unmapped"]++
			}
		default:
			t.Errorf("event %d has type %q", i, e.Type)
		}
	}
	share := func(k string) float64 { return float64(counts[k]) / n }
	for k, want := range map[string][2]float64{
		"page":       {0.38, 0.48},
		"unmapped":   {0.20, 0.29},
		"conversion": {0.24, 0.33},
		"identify":   {0.03, 0.07},
	} {
		if s := share(k); s < want[0] || s > want[1] {
			t.Errorf("%s share %.3f, want %.2f..%.2f", k, s, want[0], want[1])
		}
	}
	if large == 0 || large > n/20 {
		t.Errorf("%d large carts in %d events", large, n)
	}
	if consent < n/10 {
		t.Errorf("only %d events carry consentManagement", consent)
	}
	if withProducts == 0 {
		t.Error("no event carries products")
	}
	t.Logf("mix %v, large carts %d, consent %d, with products %d", counts, large, consent, withProducts)
}

// TestSizes checks the size bounds over more seeds than TestEvents.
func TestSizes(t *testing.T) {
	for seed := uint64(100); seed < 110; seed++ {
		minSize, maxSize, total, largeMax := 1<<30, 0, 0, 0
		events := Events(seed, 2000)
		for i, b := range events {
			total += len(b)
			if len(b) < MinEventBytes {
				t.Errorf("seed %d event %d: %d bytes", seed, i, len(b))
			}
			minSize = min(minSize, len(b))
			if bytes.Contains(b, []byte(`"event":"Product Added"`)) && bytes.Count(b, []byte(`"product_id"`)) >= 10 {
				largeMax = max(largeMax, len(b))
				if len(b) > MaxLargeEventBytes {
					t.Errorf("seed %d large cart %d: %d bytes", seed, i, len(b))
				}
				continue
			}
			maxSize = max(maxSize, len(b))
			if len(b) > MaxEventBytes {
				t.Errorf("seed %d event %d: %d bytes", seed, i, len(b))
			}
		}
		if seed == 100 {
			t.Logf("seed %d: min %d, max %d, large max %d, mean %d bytes", seed, minSize, maxSize, largeMax, total/len(events))
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, b := Events(7, 300), Events(7, 300)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("event %d differs between two runs of seed 7", i)
		}
	}
	c := Events(8, 300)
	same := 0
	for i := range a {
		if bytes.Equal(a[i], c[i]) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("%d events identical between seeds 7 and 8", same)
	}
	// A prefix of a longer run need not match (the user pool depends on n),
	// but the same (seed, n) must.
	if !bytes.Equal(Batch(Events(9, 50)), Batch(Events(9, 50))) {
		t.Error("Batch differs between two runs")
	}
	if !bytes.Equal(Purchase(3, 20), Purchase(3, 20)) || !bytes.Equal(Identify(3), Identify(3)) {
		t.Error("Purchase or Identify is not deterministic")
	}
}

func TestBatchNDJSONConfig(t *testing.T) {
	events := Events(1, 20)
	var body struct {
		Batch []json.RawMessage `json:"batch"`
	}
	if err := json.Unmarshal(Batch(events), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Batch) != len(events) {
		t.Fatalf("batch has %d events, want %d", len(body.Batch), len(events))
	}
	for i := range events {
		if !bytes.Equal(body.Batch[i], events[i]) {
			t.Errorf("batch event %d differs", i)
		}
	}
	if string(Batch(nil)) != `{"batch":[]}` {
		t.Errorf("empty batch: %s", Batch(nil))
	}
	lines := bytes.Split(bytes.TrimSuffix(NDJSON(events), []byte("\n")), []byte("\n"))
	if len(lines) != len(events) {
		t.Fatalf("NDJSON has %d lines, want %d", len(lines), len(events))
	}
	for i := range lines {
		if !bytes.Equal(lines[i], events[i]) {
			t.Errorf("NDJSON line %d differs", i)
		}
	}
	var cfg map[string]any
	if err := json.Unmarshal(Config(), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["pixelId"] == "" || cfg["enableAliasCall"] != true || len(cfg["eventsToSpotifyPixelEvents"].([]any)) < 2 {
		t.Errorf("config is not typical: %s", Config())
	}
	var order struct {
		Event      string
		Properties struct{ Products []any }
	}
	if err := json.Unmarshal(Purchase(5, 20), &order); err != nil {
		t.Fatal(err)
	}
	if order.Event != "Order Completed" || len(order.Properties.Products) != 20 {
		t.Errorf("Purchase(5, 20): event %q with %d products", order.Event, len(order.Properties.Products))
	}
	var id struct{ Type, UserID string }
	if err := json.Unmarshal(Identify(5), &id); err != nil || id.Type != "identify" || id.UserID == "" {
		t.Errorf("Identify(5): %+v, %v", id, err)
	}
}

func BenchmarkEvents(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Events(1, 1000)
	}
}
