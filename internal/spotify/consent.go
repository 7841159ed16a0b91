package spotify

import "github.com/tidwall/gjson"

// consentAllow applies rudder-server's denied-consent rule (docs/BEHAVIOUR.md §3, step 3) to
// context.consentManagement.
func (t *Transformer) consentAllow(o *Outcome) bool {
	top := &t.top
	t.consentProvider, t.consentIDs, t.consentAny = "", nil, false
	t.denied = t.denied[:0]
	if !top.get(tConsent).IsObject() {
		return true
	}
	ids := top.get(tDeniedConsents)
	if !ids.IsArray() {
		return true
	}
	valid := true
	ids.ForEach(func(_, v gjson.Result) bool {
		if v.Type != gjson.String {
			valid = false
			return false
		}
		if v.Str != "" {
			t.denied = append(t.denied, v.Str)
		}
		return true
	})
	if !valid || len(t.denied) == 0 {
		return true
	}
	provider := ""
	if p := top.get(tConsentProvider); present(p) {
		if p.Type != gjson.String {
			return true
		}
		provider = p.Str
	}
	t.consentProvider = provider
	cfg := t.cfg
	for i := range cfg.generic {
		e := &cfg.generic[i]
		if e.provider != provider || len(e.consents) == 0 {
			continue
		}
		strategy := ""
		if s := top.get(tConsentStrategy); s.Type == gjson.String {
			strategy = s.Str
		}
		if provider == "custom" {
			strategy = e.strategy
		}
		t.consentIDs, t.consentAny = e.consents, strategy == "or"
		if strategy == "or" {
			if t.allDenied(e.consents) {
				o.filter("every configured consent was denied")
				return false
			}
			return true
		}
		return t.noneDenied(o, e.consents, "consent ")
	}
	if (provider == "" || provider == "oneTrust") && len(cfg.oneTrust) > 0 {
		t.consentIDs = cfg.oneTrust
		return t.noneDenied(o, cfg.oneTrust, "consent category ")
	}
	if (provider == "" || provider == "ketch") && len(cfg.ketch) > 0 {
		t.consentIDs, t.consentAny = cfg.ketch, true
		if t.allDenied(cfg.ketch) {
			o.filter("every Ketch purpose was denied")
			return false
		}
	}
	return true
}

func (t *Transformer) isDenied(id string) bool {
	for _, d := range t.denied {
		if d == id {
			return true
		}
	}
	return false
}

func (t *Transformer) allDenied(ids []string) bool {
	for _, id := range ids {
		if !t.isDenied(id) {
			return false
		}
	}
	return true
}

// noneDenied filters the event, naming the first configured id that was
// denied, and reports whether none was.
func (t *Transformer) noneDenied(o *Outcome, ids []string, what string) bool {
	for _, id := range ids {
		if t.isDenied(id) {
			o.filterQuoted(what, id, " was denied")
			return false
		}
	}
	return true
}
