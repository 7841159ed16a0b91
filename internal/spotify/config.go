package spotify

import (
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"spotifypixel/internal/apperr"
	"spotifypixel/internal/jsonscan"
)

type filterMode uint8

const (
	filterDisable filterMode = iota
	filterAllow
	filterDeny
)

// mapping is what a custom mapping says for one event name: supported targets
// in first-seen order and a warning for every unsupported one.
type mapping struct {
	targets  []Command
	warnings []string
}

// consentEntry is one generic consent-management provider's configuration.
type consentEntry struct {
	provider string
	consents []string // non-empty consent ids
	strategy string
}

// Config is a destination configuration validated and indexed once, so each
// event costs only map look-ups. A Config is immutable and safe to share.
type Config struct {
	PixelID      string // trimmed pixel key
	pixelIDQuery []byte // PixelID, URL-query-escaped
	alias        bool
	filter       filterMode
	allow, deny  map[string]struct{}
	custom       map[string]*mapping
	oneTrust     []string
	ketch        []string
	generic      []consentEntry
	capiConnID   string        // Conversions API connection id, "" when off
	capiToken    string        // Conversions API bearer token: a secret, never echoed
	err          *apperr.Error // non-nil: every event fails with it
}

// Err returns the configuration error, nil when the config is valid.
func (c *Config) Err() error {
	if c.err == nil {
		return nil
	}
	return c.err
}

// ParseConfig validates a destination Config (docs/BEHAVIOUR.md §2.2) and indexes it. The
// returned Config is never nil: with an error it makes every event fail with
// that error, which is what the RudderStack front needs.
func ParseConfig(raw []byte) (*Config, error) {
	c := &Config{}
	if !gjson.ValidBytes(raw) {
		c.err = apperr.New(apperr.InvalidConfig, "Config must be a JSON object")
		return c, c.err
	}
	// A repeated key's last occurrence wins, as in events (BEHAVIOUR.md §2.1).
	if err := c.parse(gjson.Parse(Canonical(string(raw)))); err != nil {
		c.err = err
		return c, err
	}
	return c, nil
}

func configErr(format string, args ...any) *apperr.Error {
	return apperr.New(apperr.InvalidConfig, format, args...)
}

func (c *Config) parse(cfg gjson.Result) *apperr.Error {
	if !cfg.IsObject() {
		return configErr("Config must be a JSON object")
	}
	if err := c.parsePixelID(cfg.Get("pixelId")); err != nil {
		return err
	}
	if err := c.parseMappings(cfg); err != nil {
		return err
	}
	if v := cfg.Get("enableAliasCall"); present(v) {
		if !v.IsBool() {
			return configErr("enableAliasCall must be a boolean")
		}
		c.alias = v.Bool()
	}
	if err := c.parseFilter(cfg); err != nil {
		return err
	}
	if err := c.parseConsent(cfg); err != nil {
		return err
	}
	return c.parseCAPI(cfg)
}

// parseCAPI reads the two Conversions API keys (docs/BEHAVIOUR.md §8): both or neither.
func (c *Config) parseCAPI(cfg gjson.Result) *apperr.Error {
	var vals [2]string
	for i, key := range [2]string{"capiConnectionId", "capiAccessToken"} {
		v := cfg.Get(key)
		if !present(v) {
			continue
		}
		if v.Type != gjson.String || trim(v.Str) == "" {
			return configErr("%s must be a non-empty string", key)
		}
		vals[i] = v.Str
	}
	switch {
	case vals[0] != "" && vals[1] == "":
		return configErr("capiAccessToken is required when capiConnectionId is set")
	case vals[0] == "" && vals[1] != "":
		return configErr("capiConnectionId is required when capiAccessToken is set")
	}
	c.capiConnID, c.capiToken = vals[0], vals[1]
	return nil
}

// CAPI returns the Conversions API connection id and token, ok false when
// the destination does not use the Conversions API.
func (c *Config) CAPI() (connectionID, token string, ok bool) {
	return c.capiConnID, c.capiToken, c.capiConnID != ""
}

func (c *Config) parsePixelID(v gjson.Result) *apperr.Error {
	if !present(v) {
		return configErr("pixelId is required")
	}
	if v.Type != gjson.String {
		return configErr("pixelId must be a string")
	}
	id := trim(v.Str)
	if id == "" {
		return configErr("pixelId is required")
	}
	if utf8.RuneCountInString(id) > 100 {
		return configErr("pixelId must be at most 100 characters")
	}
	c.PixelID = id
	c.pixelIDQuery = appendQueryEscape(nil, id)
	return nil
}

// list returns the array under key (absent → empty), or an error naming key.
func list(cfg gjson.Result, key string) ([]gjson.Result, *apperr.Error) {
	v := cfg.Get(key)
	if !present(v) {
		return nil, nil
	}
	if !v.IsArray() {
		return nil, configErr("%s must be an array", key)
	}
	return v.Array(), nil
}

// webList is list for the consent keys, which may also come keyed by source
// type as {"web": [...]}; an error then names the entry (key.web).
func webList(cfg gjson.Result, key string) ([]gjson.Result, *apperr.Error) {
	v := cfg.Get(key)
	name := key
	if v.IsObject() {
		v, name = v.Get("web"), key+".web"
	}
	if !present(v) {
		return nil, nil
	}
	if !v.IsArray() {
		return nil, configErr("%s must be an array", name)
	}
	return v.Array(), nil
}

func (c *Config) parseMappings(cfg gjson.Result) *apperr.Error {
	entries, err := list(cfg, "eventsToSpotifyPixelEvents")
	if err != nil {
		return err
	}
	seen := map[string]map[string]bool{}
	for _, e := range entries {
		from := e.Get("from")
		if !isNonEmptyString(from) {
			continue
		}
		name := trim(from.Str)
		m := c.custom[name]
		if m == nil {
			if c.custom == nil {
				c.custom = map[string]*mapping{}
			}
			m = &mapping{}
			c.custom[name] = m
			seen[name] = map[string]bool{}
		}
		to := e.Get("to")
		key := to.Raw
		if to.Type == gjson.String {
			key = lowerASCII(trim(to.Str))
		}
		if seen[name][key] {
			continue
		}
		seen[name][key] = true
		if cmd, ok := conversionCommand(key); ok && to.Type == gjson.String {
			m.targets = append(m.targets, cmd)
			continue
		}
		m.warnings = append(m.warnings, string(jsonscan.AppendString([]byte("unsupported Spotify Pixel event "), key))+" skipped")
	}
	return nil
}

func (c *Config) parseFilter(cfg gjson.Result) *apperr.Error {
	switch v := cfg.Get("eventFilteringOption"); {
	case !present(v) || v.Type == gjson.String && v.Str == "disable":
		c.filter = filterDisable
	case v.Type == gjson.String && v.Str == "whitelistedEvents":
		c.filter = filterAllow
	case v.Type == gjson.String && v.Str == "blacklistedEvents":
		c.filter = filterDeny
	default:
		return configErr("eventFilteringOption must be one of disable, whitelistedEvents, blacklistedEvents")
	}
	allow, err := list(cfg, "whitelistedEvents")
	if err != nil {
		return err
	}
	deny, err := list(cfg, "blacklistedEvents")
	if err != nil {
		return err
	}
	c.allow, c.deny = nameSet(allow), nameSet(deny)
	return nil
}

// nameSet collects the trimmed string eventName of each entry.
func nameSet(entries []gjson.Result) map[string]struct{} {
	set := make(map[string]struct{}, len(entries))
	for _, e := range entries {
		if n := e.Get("eventName"); n.Type == gjson.String {
			set[trim(n.Str)] = struct{}{}
		}
	}
	return set
}

func (c *Config) parseConsent(cfg gjson.Result) *apperr.Error {
	ot, err := webList(cfg, "oneTrustCookieCategories")
	if err != nil {
		return err
	}
	c.oneTrust = stringsOf(ot, "oneTrustCookieCategory")
	ketch, err := webList(cfg, "ketchConsentPurposes")
	if err != nil {
		return err
	}
	c.ketch = stringsOf(ketch, "purpose")
	generic, err := webList(cfg, "consentManagement")
	if err != nil {
		return err
	}
	for _, e := range generic {
		p := e.Get("provider")
		if p.Type != gjson.String {
			continue
		}
		entry := consentEntry{provider: p.Str, consents: stringsOf(arrayOf(e.Get("consents")), "consent")}
		if s := e.Get("resolutionStrategy"); s.Type == gjson.String {
			entry.strategy = s.Str
		}
		c.generic = append(c.generic, entry)
	}
	return nil
}

// stringsOf collects the non-empty string field of each entry.
func stringsOf(entries []gjson.Result, field string) []string {
	var out []string
	for _, e := range entries {
		if v := e.Get(field); isNonEmptyString(v) {
			out = append(out, v.Str)
		}
	}
	return out
}

// arrayOf returns v's elements when v is an array, nothing otherwise.
func arrayOf(v gjson.Result) []gjson.Result {
	if !v.IsArray() {
		return nil
	}
	return v.Array()
}
