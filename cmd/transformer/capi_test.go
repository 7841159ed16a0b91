package main

import (
	"encoding/json"
	"strings"
	"testing"

	"spotifypixel/internal/idhash"
)

func TestTransformIncludeCAPI(t *testing.T) {
	s := startServer(t, nil, "-capi-batch-size", "2")
	const token = "capi-secret-token-123"
	cfg := `{"pixelId":"p1","enableAliasCall":true,"capiConnectionId":"conn-1","capiAccessToken":"` + token + `"}`
	events := []string{
		`{"type":"track","event":"Order Completed","userId":"u1","messageId":"m1","timestamp":"2026-11-29T10:00:00.5Z",
		  "context":{"traits":{"email":" Jane@Example.com "},"ip":"203.0.113.9:4431","page":{"url":"https://shop.test/done"}},
		  "properties":{"total":"12.50","currency":"EUR","order_id":"o1"}}`,
		`{"type":"track","event":"Product Added","messageId":"m2","context":{"ip":"198.51.100.7"},
		  "properties":{"products":[{"price":1,"name":"A"},{"price":2,"name":"B"}]}}`,
		`{"type":"page","messageId":"m3","context":{"page":{"url":"https://shop.test/"}}}`,
		`{"type":"identify","messageId":"m4"}`,
	}
	body := `{"destination":{"ID":"d","Config":` + cfg + `},"batch":[` + strings.Join(events, ",") + `]}`
	r := s.post("/transform?include=beacons,capi", body)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), token) || strings.Contains(s.logs.String(), token) {
		t.Fatal("the CAPI token leaked into the response or the logs")
	}
	if strings.Contains(s.logs.String(), "Jane@Example.com") || strings.Contains(s.logs.String(), "203.0.113.9") {
		t.Fatal("raw email or IP in the logs")
	}
	var resp struct {
		Results []struct {
			Status string
			Calls  []struct {
				Command string
				Params  map[string]any
			}
			CAPI        []map[string]any `json:"capi"`
			CAPISkipped string           `json:"capiSkipped"`
		}
		CAPIRequests []struct {
			ConversionEvents struct {
				ConnectionID string           `json:"capi_connection_id"`
				Events       []map[string]any `json:"events"`
			} `json:"conversion_events"`
		} `json:"capiRequests"`
	}
	if err := json.Unmarshal(r.body, &resp); err != nil {
		t.Fatal(err)
	}
	purchase := resp.Results[0].CAPI
	if len(purchase) != 1 {
		t.Fatalf("purchase capi %v", resp.Results[0])
	}
	ev := purchase[0]
	user := ev["user_data"].(map[string]any)
	emailHash, _ := idhash.Email("jane@example.com")
	if ev["event_name"] != "PURCHASE" || ev["event_id"] != "m1" || ev["event_time"] != "2026-11-29T10:00:00.500Z" ||
		user["hashed_emails"].([]any)[0] != emailHash || user["ip_address"] != "203.0.113.9" ||
		ev["event_source_url"] != "https://shop.test/done" || ev["action_source"] != "WEB" {
		t.Errorf("purchase event %v", ev)
	}
	if d := ev["event_details"].(map[string]any); d["amount"] != 12.5 || d["currency"] != "EUR" {
		t.Errorf("event_details %v", d)
	}
	if pixelID := resp.Results[0].Calls[1].Params["event_id"]; pixelID != ev["event_id"] {
		t.Errorf("pixel event_id %v, CAPI %v: not de-duplicated", pixelID, ev["event_id"])
	}
	if got := resp.Results[1].CAPI; len(got) != 2 || got[0]["event_id"] != "m2-0" || got[1]["event_id"] != "m2-1" {
		t.Errorf("fan-out capi %v", got)
	}
	if resp.Results[2].CAPISkipped == "" || resp.Results[3].CAPI != nil {
		t.Errorf("page without identifier / filtered: %+v %+v", resp.Results[2], resp.Results[3])
	}
	if len(resp.CAPIRequests) != 2 || len(resp.CAPIRequests[0].ConversionEvents.Events) != 2 ||
		len(resp.CAPIRequests[1].ConversionEvents.Events) != 1 || resp.CAPIRequests[0].ConversionEvents.ConnectionID != "conn-1" {
		t.Errorf("capiRequests %+v", resp.CAPIRequests)
	}
	if r := s.post("/transform?destination=demo&include=capi", `{"batch":[]}`); r.status != 422 || !strings.Contains(string(r.body), "capiConnectionId") {
		t.Errorf("include=capi without CAPI keys: %d %s", r.status, r.body)
	}
	bad := `{"destination":{"Config":{"pixelId":"p","capiConnectionId":"c"}},"batch":[]}`
	if r := s.post("/transform", bad); r.status != 422 || !strings.Contains(string(r.body), "capiAccessToken is required") {
		t.Errorf("half-configured CAPI: %d %s", r.status, r.body)
	}
}
