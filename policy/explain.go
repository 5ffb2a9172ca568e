package policy

import (
	"time"

	"github.com/havendns/haven/blocklist"
	"github.com/havendns/haven/policy/client"
	"github.com/havendns/haven/policy/safesearch"
	"github.com/miekg/dns"
)

// Explanation says how a name would be answered for a client, and why.
type Explanation struct {
	Device   string // "" if the client matches no device
	Profile  string
	Blocked  bool
	Category string
	Rule     blocklist.Ref // the deciding rule; zero if none matched
	Tier     string        // which kind of rule decided (Tier* constants); "" if none
	Windows  []string      // schedule windows active now
	Paused   bool
	// Rewrite is the SafeSearch target the name is answered with, if any.
	Rewrite string
	// TTLCap is how long answers may live before the schedule or the
	// runtime state changes (0 = no limit).
	TTLCap time.Duration
	Hits   []blocklist.Hit // every list rule that matches, blocked category or not
	Answer *dns.Msg        // the block answer, when Blocked
}

// Explain reports the decision for a name and type asked by who, without
// resolving it.
func (f *Filter) Explain(who client.Who, name string, qtype uint16) Explanation {
	r := f.rules.Load()
	now := f.opt.Now()
	name = dns.CanonicalName(name)
	device, p := r.lookup(who)
	lists := f.lists.Matcher()
	snap := f.state.Load()
	c := r.context(p, device, lists, snap, now)
	d := c.decide(name)
	e := Explanation{
		Device: device, Profile: p.name, Blocked: d.block || d.special >= 0,
		Category: d.category, Rule: d.rule, Tier: d.tier, TTLCap: c.ttlCap,
		Paused: c.all && c.why == PausedCategory,
	}
	if p.sched != nil {
		active, _ := p.sched.Active(now)
		for i, w := range p.windows {
			if active&(1<<uint(i)) != 0 {
				e.Windows = append(e.Windows, w.Name)
			}
		}
	}
	if lists != nil {
		e.Hits = lists.Explain(name)
	}
	req := new(dns.Msg)
	req.SetQuestion(name, qtype)
	switch {
	case d.special >= 0:
		e.Answer = special(req, d.special, d.category)
	case d.block:
		e.Answer = p.answer.Build(req, d.category)
	default:
		if target, _, ok := safesearch.Rewrite(name, p.safesearch); ok {
			e.Rewrite = target
		}
	}
	return e
}
