package policy

import (
	"net/netip"
	"strings"
	"time"

	"github.com/havendns/haven/blocklist"
	"github.com/havendns/haven/state"
	"github.com/miekg/dns"
)

// qctx is everything one query is decided under: the profile, what its
// schedule and the runtime state change right now, and how long an answer
// may live before that changes.
type qctx struct {
	p      *profile
	device string
	lists  *blocklist.Matcher
	mask   uint64 // categories blocked now
	all    bool   // everything blocked but allow entries and exceptions
	why    string // the category named when all blocks: "paused" or "schedule:<name>"
	exMask uint64 // categories and services excepted by a parent's grant
	exName []string
	ttlCap time.Duration // 0 = none
}

// Categories named in answers and logs for blocks that no list made.
const (
	PausedCategory   = "paused"
	ScheduleCategory = "schedule" // written "schedule:<window name>"
	IPCategory       = "blocked-ip"
)

func (r *rules) context(p *profile, device string, lists *blocklist.Matcher, snap *state.Snapshot, now time.Time) qctx {
	c := qctx{p: p, device: device, lists: lists}
	if lists != nil {
		c.mask = lists.Mask(p.block...)
	}
	if p.sched != nil {
		active, next := p.sched.Active(now)
		c.cap(next.Sub(now))
		var unblock uint64
		for i, w := range p.windows {
			if active&(1<<uint(i)) == 0 {
				continue
			}
			if w.BlockAll && !c.all {
				c.all, c.why = true, p.why[i]
			}
			if lists != nil {
				c.mask |= lists.Mask(w.Block...)
				unblock |= lists.Mask(w.Unblock...)
			}
		}
		c.mask &^= unblock
	}
	for _, target := range [2]string{device, p.name} {
		if target == "" || snap == nil {
			continue
		}
		if until, ok := snap.Paused(target, now); ok {
			c.all, c.why = true, PausedCategory
			c.cap(until.Sub(now))
		}
		for _, e := range snap.Exceptions(target, now) {
			c.cap(e.Until.Sub(now))
			if m := c.maskOf(e.What); m != 0 {
				c.exMask |= m
			} else {
				c.exName = append(c.exName, strings.TrimSuffix(strings.ToLower(e.What), "."))
			}
		}
	}
	c.mask &^= c.exMask
	return c
}

func (c *qctx) maskOf(category string) uint64 {
	if c.lists == nil {
		return 0
	}
	return c.lists.Mask(category)
}

func (c *qctx) cap(d time.Duration) {
	if d > 0 && (c.ttlCap == 0 || d < c.ttlCap) {
		c.ttlCap = d
	}
}

// decision is the outcome for one name.
type decision struct {
	block    bool
	special  int8 // >= 0: a bypass-prevention answer of that Mode, whatever the profile's
	category string
	rule     blocklist.Ref
	tier     string
}

// Tiers of rules, in the order they are consulted.
const (
	TierBypass    = "bypass prevention"
	TierException = "exception"      // a parent's temporary grant
	TierConfig    = "config"         // the profile's allow and deny entries
	TierSchedule  = "schedule/pause" // everything blocked for now
	TierLists     = "lists"          // the blocked categories and services
)

func (c *qctx) decide(name string) decision {
	d := decision{special: -1}
	if c.p.bypass {
		if mode, ok := bypassNames[name]; ok {
			d.special, d.category, d.tier = int8(mode), BypassCategory, TierBypass
			d.rule = blocklist.Ref{Name: strings.TrimSuffix(name, "."), Source: "bypass prevention"}
			return d
		}
	}
	if r, ok := c.excepted(name); ok {
		d.rule, d.tier = r, TierException
		return d
	}
	if v := c.p.own.Lookup(name, ^uint64(0)); v.Rule.Name != "" {
		d.block, d.category, d.rule, d.tier = v.Blocked, v.Category, v.Rule, TierConfig
		return d
	}
	if c.all {
		d.block, d.category, d.tier = true, c.why, TierSchedule
		return d
	}
	if c.lists == nil {
		return d
	}
	v := c.lists.Lookup(name, c.mask)
	if v.Rule.Name != "" {
		d.block, d.category, d.rule, d.tier = v.Blocked, v.Category, v.Rule, TierLists
	}
	return d
}

// excepted reports whether a parent's grant covers name: a domain granted
// by name, or a category or service granted whole.
func (c *qctx) excepted(name string) (blocklist.Ref, bool) {
	bare := strings.TrimSuffix(name, ".")
	for _, n := range c.exName {
		if bare == n || strings.HasSuffix(bare, "."+n) {
			return blocklist.Ref{Name: n, Allow: true, Source: "exception"}, true
		}
	}
	if c.exMask != 0 && c.lists != nil {
		if v := c.lists.Lookup(name, c.exMask); v.Blocked {
			v.Rule.Allow, v.Rule.Source = true, "exception for "+v.Category
			return v.Rule, true
		}
	}
	return blocklist.Ref{}, false
}

// inspect looks into a forwarded answer: an allowed name whose CNAME chain
// leads to a blocked name, or that resolves to a blocked address, is
// blocked too. A block-everything window is not applied here: the name
// itself was allowed, so its own CDN names must be too.
func (c *qctx) inspect(m *dns.Msg) (category, rule string, bad bool) {
	if m.Rcode != dns.RcodeSuccess {
		return "", "", false
	}
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.CNAME:
			all := c.all
			c.all = false
			d := c.decide(strings.ToLower(rr.Target))
			c.all = all
			if d.block {
				return d.category, "CNAME " + rr.Target + " (" + d.rule.Name + ")", true
			}
		case *dns.A:
			if ip, ok := netip.AddrFromSlice(rr.A); ok && c.blockedIP(ip.Unmap()) {
				return IPCategory, ip.Unmap().String(), true
			}
		case *dns.AAAA:
			if ip, ok := netip.AddrFromSlice(rr.AAAA); ok && c.blockedIP(ip) {
				return IPCategory, ip.String(), true
			}
		}
	}
	return "", "", false
}

func (c *qctx) blockedIP(ip netip.Addr) bool {
	for _, p := range c.p.blockIPs {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
