package spotify

import (
	"time"

	"spotifypixel/internal/capi"
	"spotifypixel/internal/jsonscan"
)

// CAPIEvents adds the Conversions API events of the last ok outcome to into,
// one per conversion or view call, and returns how many; when it adds none
// it returns the reason. The capi package builds them from what the rules
// produced: the calls' parameters and the event's fields the walk found.
func (t *Transformer) CAPIEvents(into *capi.Events) (int, string) {
	o := &t.o
	if o.Status != StatusOK {
		return 0, ""
	}
	src := t.capiSources()
	var who capi.Visitor
	if ok, reason := who.Read(&src, t.now()); !ok {
		return 0, reason
	}
	mark, n := into.Len(), 0
	for i := range o.Calls {
		c := &o.Calls[i]
		if c.Command == CmdAlias {
			continue
		}
		call := capi.Call{
			Name:        c.Command.CAPIEventName(),
			EventID:     jsonscan.Str(o.buf[c.idStart:c.idEnd]),
			Value:       c.beacon[beaconValue],
			Currency:    c.beacon[beaconCurrency],
			ProductName: c.productName,
		}
		var ok bool
		if t.scratch, ok = capi.AppendEvent(t.scratch[:0], &call, &who); !ok {
			into.Truncate(mark)
			return 0, capi.ReasonNoEventID
		}
		into.Add(t.scratch)
		n++
	}
	return n, ""
}

// capiSources hands the Conversions API the event's fields it reads, from
// the slots the event's walk filled.
func (t *Transformer) capiSources() capi.Sources {
	top := &t.top
	top.lookInside(tTraits)
	traits := top.get(tTopTraits)
	return capi.Sources{
		Emails:  [3]string{top.rawOf(tTraitsEmail), jsonscan.LastMember(traits, "email").Raw, t.props.rawOf(sEmail)},
		Phones:  [2]string{top.rawOf(tTraitsPhone), jsonscan.LastMember(traits, "phone").Raw},
		IPs:     [2]string{top.rawOf(tIP), top.rawOf(tRequestIP)},
		Device:  top.rawOf(tDevice),
		Channel: top.rawOf(tChannel),
		Times:   [3]string{top.rawOf(tTimestamp), top.rawOf(tOriginalTimestamp), top.rawOf(tReceivedAt)},
		PageURL: top.rawOf(tPageURL),
	}
}

// now is the injected clock, else the wall clock.
func (t *Transformer) now() time.Time {
	if t.opts.Now != nil {
		return t.opts.Now()
	}
	return time.Now()
}
