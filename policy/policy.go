// Package policy is the chain step that decides, for each query, what the
// asking device may have: it finds the device's profile, applies the
// profile's schedules, the parents' pauses and exceptions, the operator's
// allow and deny entries, the blocked list categories and services,
// SafeSearch and bypass prevention, and inspects forwarded answers for
// CNAMEs and addresses that lead somewhere blocked. It sits in front of the
// shared response cache, so one cache serves every client whatever its
// policy.
package policy

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/havendns/haven/blocklist"
	"github.com/havendns/haven/policy/client"
	"github.com/havendns/haven/policy/safesearch"
	"github.com/havendns/haven/resolver"
	"github.com/havendns/haven/state"
	"github.com/miekg/dns"
)

// Lists gives the current blocklist snapshot; *blocklist.Store implements it.
type Lists interface {
	Matcher() *blocklist.Matcher
}

// Neighbors finds the MAC address behind an IP; *client.Neighbors
// implements it.
type Neighbors interface {
	Lookup(ip netip.Addr) (client.MAC, bool)
	// Version changes whenever an address may have changed its MAC.
	Version() uint64
}

// Config is the whole policy: profiles and how clients map to them.
type Config struct {
	Profiles []Profile
	Default  string // profile of unmatched clients; must name a profile
	Devices  []client.Device
	// MACFrom lists the routers whose EDNS0 MAC option is trusted: anyone
	// can forge it, so from others it is ignored.
	MACFrom []netip.Prefix
}

// Profile is one named policy, already merged with what it inherits.
type Profile struct {
	Name             string
	Block            []string // categories and services
	Allow            []string // names (and subdomains) always allowed
	Deny             []string // names (and subdomains) always blocked
	BlockIPs         []netip.Prefix
	SafeSearch       safesearch.Settings
	BypassPrevention bool
	Location         *time.Location // nil = UTC
	Windows          []Window
	Answer           Answer
}

// Options are the parts of a Filter that do not come from the config.
type Options struct {
	Now       func() time.Time // nil = time.Now
	Neighbors Neighbors        // nil = no neighbour table
}

// Filter is the policy step of the chain.
type Filter struct {
	next  resolver.Resolver
	lists Lists
	opt   Options
	rules atomic.Pointer[rules]
	state atomic.Pointer[state.Snapshot]
	// version changes after anything a decision depends on but the clock
	// does: the rules, the state, the lists (noticed by Subject).
	version   atomic.Uint64
	lastLists atomic.Pointer[blocklist.Matcher]
}

// New returns a Filter that passes allowed queries to next.
func New(next resolver.Resolver, lists Lists, cfg Config, opt Options) (*Filter, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	f := &Filter{next: next, lists: lists, opt: opt}
	f.state.Store(state.NewSnapshot(nil, opt.Now()))
	if err := f.Set(cfg); err != nil {
		return nil, err
	}
	return f, nil
}

// Set swaps in a new policy; queries in flight finish under the old one.
func (f *Filter) Set(cfg Config) error {
	r, err := compile(cfg)
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	f.rules.Store(r)
	f.version.Add(1)
	return nil
}

// SetState swaps in the runtime state (pauses and exceptions).
func (f *Filter) SetState(s *state.Snapshot) {
	f.state.Store(s)
	f.version.Add(1)
}

// Subject says whom the policy decides for when addr asks over plain DNS
// with no EDNS option (the device's name, else the profile's: config
// validation keeps the two apart), and the version of everything the
// decision depends on but the clock. The server's fast path keys the
// answers it replays by both: an answer decided under an older version is
// never replayed, and the time limits come with each answer (Trace.Valid).
// It takes no lock and allocates nothing.
func (f *Filter) Subject(addr netip.Addr) (who string, version uint64) {
	if m := f.lists.Matcher(); m != f.lastLists.Load() {
		// The lists were swapped since the last query: what was decided
		// under the old ones must go.
		f.lastLists.Store(m)
		f.version.Add(1)
	}
	// The version is read before the rules, so that a reload between the
	// two makes the answer decided now unusable, not wrongly usable.
	version = f.version.Load()
	w := client.Who{Addr: addr}
	if nb := f.opt.Neighbors; nb != nil {
		version += nb.Version() << 32
		w.MAC, w.HasMAC = nb.Lookup(addr)
	}
	device, p := f.rules.Load().lookup(w)
	if device != "" {
		return device, version
	}
	return p.name, version
}

// StateSnapshot returns the runtime state in force.
func (f *Filter) StateSnapshot() *state.Snapshot { return f.state.Load() }

// HasTarget reports whether name is a device or profile of the policy in
// force, the names pauses and exceptions apply to.
func (f *Filter) HasTarget(name string) bool {
	r := f.rules.Load()
	_, p := r.profiles[name]
	_, d := r.devices[name]
	return p || d
}

// Resolve answers blocked and rewritten queries itself and passes the rest
// on, inspecting what comes back.
func (f *Filter) Resolve(ctx context.Context, q *resolver.Query) (*dns.Msg, error) {
	p, c, d := f.begin(q)
	q.Trace.Device, q.Trace.Profile = c.device, p.name
	q.Trace.Valid = c.ttlCap
	if d.special >= 0 {
		q.Trace.Decision = resolver.Blocked
		q.Trace.Category, q.Trace.Rule = d.category, d.rule.Name
		return special(q.Msg, d.special, d.category), nil
	}
	if d.block {
		q.Trace.Decision = resolver.Blocked
		q.Trace.Category, q.Trace.Rule, q.Trace.Source = d.category, d.rule.Name, d.rule.Source
		return capTTL(p.answer.Build(q.Msg, d.category), c.ttlCap), nil
	}
	if d.rule.Allow {
		q.Trace.Rule, q.Trace.Source = d.rule.Name, d.rule.Source
	}
	if target, _, ok := safesearch.Rewrite(q.Name(), p.safesearch); ok {
		m, err := safesearch.Resolve(ctx, f.next, q, target)
		return capTTL(m, c.ttlCap), err
	}
	m, err := f.next.Resolve(ctx, q)
	if err != nil || m == nil {
		return m, err
	}
	if category, rule, bad := c.inspect(m); bad {
		q.Trace.Decision = resolver.Blocked
		q.Trace.Category, q.Trace.Rule, q.Trace.Source = category, rule, "answer inspection"
		return capTTL(p.answer.Build(q.Msg, category), c.ttlCap), nil
	}
	return capTTL(m, c.ttlCap), nil
}

// Forwards reports whether Resolve would pass q on to the next step
// unchanged, neither blocking nor rewriting it: the server asks before it
// sends a query upstream itself (see resolver.Prefetched). The chain still
// decides the query when the answer is in, so a policy changed in between
// only costs the query sent.
func (f *Filter) Forwards(q *resolver.Query) bool {
	p, _, d := f.begin(q)
	if d.special >= 0 || d.block {
		return false
	}
	_, _, rewritten := safesearch.Rewrite(q.Name(), p.safesearch)
	return !rewritten
}

// begin decides q by its name: the profile it falls under, the context of
// that decision, and the decision.
func (f *Filter) begin(q *resolver.Query) (*profile, qctx, decision) {
	r := f.rules.Load()
	device, p := r.identify(q, f.opt.Neighbors)
	c := r.context(p, device, f.lists.Matcher(), f.state.Load(), f.opt.Now())
	return p, c, c.decide(q.Name())
}

// capTTL lowers every TTL in m to at most limit (0 = no limit), so that an
// answer never outlives the schedule window or pause that produced it.
func capTTL(m *dns.Msg, limit time.Duration) *dns.Msg {
	if m == nil || limit <= 0 {
		return m
	}
	max := uint32(limit / time.Second)
	if max == 0 {
		max = 1
	}
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			h := rr.Header()
			if h.Rrtype == dns.TypeOPT {
				continue
			}
			if h.Ttl > max {
				h.Ttl = max
			}
			if soa, ok := rr.(*dns.SOA); ok && soa.Minttl > max {
				soa.Minttl = max
			}
		}
	}
	return m
}
