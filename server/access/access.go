// Package access decides, before any other work, whether a query from an
// address is served: who may use Haven at all, and how fast (per-client and
// per-prefix token buckets).
//
// A Guard holds an allow list, a deny list and two bounded tables of token
// buckets. It never starts goroutines: buckets refill lazily when they are
// next looked at, and the tables have a fixed size chosen in New, so a flood
// of spoofed source addresses cannot grow memory.
package access

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
)

// Action is what the server does with a query.
type Action uint8

// Actions a Guard decides between.
const (
	Serve  Action = iota // go on to the resolver chain
	Refuse               // answer REFUSED straight away
	Drop                 // send nothing
)

func (a Action) String() string {
	switch a {
	case Serve:
		return "serve"
	case Refuse:
		return "refuse"
	case Drop:
		return "drop"
	}
	return "unknown"
}

// ParseAction reads an over-limit action as written in the config: "refuse"
// or "drop" (any case). The empty string means the default, Refuse.
func ParseAction(s string) (Action, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "refuse":
		return Refuse, nil
	case "drop":
		return Drop, nil
	}
	return Refuse, fmt.Errorf("access: unknown action %q (want refuse or drop)", s)
}

// Reason says why Check decided as it did, for logs and metrics.
type Reason uint8

// Reasons, in the order Check tests them.
const (
	Allowed    Reason = iota // served
	Denied                   // matched the deny list
	NotAllowed               // outside the allow list (or not a valid address)
	ClientRate               // the client's bucket is empty
	PrefixRate               // the bucket of the client's network is empty
	numReasons
)

func (r Reason) String() string {
	switch r {
	case Allowed:
		return "allowed"
	case Denied:
		return "denied"
	case NotAllowed:
		return "not allowed"
	case ClientRate:
		return "client rate"
	case PrefixRate:
		return "prefix rate"
	}
	return "unknown"
}

// Options configure a Guard. The zero value serves the DefaultAllow ranges
// without rate limits.
type Options struct {
	// Allow lists the networks that may use Haven. Empty means
	// DefaultAllow(); to serve everyone, list 0.0.0.0/0 and ::/0.
	Allow []netip.Prefix
	// Deny lists networks refused even when Allow admits them.
	Deny []netip.Prefix

	// Rate limits in queries per second; 0 means unlimited. A burst of 0
	// means twice the rate (at least 1): DNS arrives in bursts, a page load
	// asks dozens of names at once.
	ClientRate  float64 // per client: an IPv4 address, an IPv6 /Client6Bits
	ClientBurst int
	Prefix4Rate float64 // per IPv4 /Prefix4Bits
	Prefix6Rate float64 // per IPv6 /Prefix6Bits
	PrefixBurst int

	// How addresses are grouped. Client6Bits is the IPv6 prefix that counts
	// as one client. It defaults to 128, not the /64 that internet-facing
	// resolvers count, because Haven serves a LAN, and a LAN is one /64
	// (every fe80:: address is in the same one): per /64, the whole house
	// would share one bucket. Set 64 for a Haven reached over the
	// internet, where one host can take any address of its /64.
	// Prefix4Bits (default 24) and Prefix6Bits (default 56, a typical
	// site's delegation) size the networks the prefix limits count; on a
	// LAN that is usually the whole site, so prefix limits are a site-wide
	// cap.
	Client6Bits int
	Prefix4Bits int
	Prefix6Bits int

	// Exempt lists addresses never rate limited (the gateway, monitoring).
	// They still pass through Allow and Deny.
	Exempt []netip.Prefix
	// OverLimit is the action for rate-limited queries: Refuse (also what
	// Serve, the zero value, means here) or Drop.
	OverLimit Action
	// MaxClients bounds each of the two bucket tables, clients and
	// prefixes (default 100000; rounded down to a multiple of 8, at least
	// 8). A table takes 26 bytes a bucket (2.6 MB at the default),
	// allocated once in New and only when its limits are on. When room
	// runs out, the bucket nearest to full is reused.
	MaxClients int

	// Now is the clock, for tests; it must be safe for concurrent use. By
	// default the monotonic clock is read directly.
	Now func() time.Time
}

const (
	defaultMaxClients  = 100000
	defaultClient6Bits = 128
	defaultPrefix4Bits = 24
	defaultPrefix6Bits = 56
)

// The counters are spread over stripes, by client, on their own cache
// lines, so parallel Checks do not all fight over one.
const (
	stripeBits = 4
	stripes    = 1 << stripeBits
)

type counterStripe struct {
	n [numReasons]atomic.Uint64
	_ [128 - 8*numReasons]byte
}

// Guard decides whether queries are served. It is safe for concurrent use.
type Guard struct {
	allow, deny, exempt prefixList

	// Bucket tables, nil when their limits are all off. The prefix table
	// holds both families; each family has its own limit (zero when off)
	// and its own masks. Index 0 is IPv6, 1 is IPv4.
	client, prefix *table
	clientLim      limit
	prefixLim      [2]limit
	clientMask     [2]key
	prefixMask     [2]key

	over  Action
	clock func() time.Time // nil: the monotonic clock, read cheaply
	base  time.Time        // Check measures time as nanoseconds since base
	seed  uint64

	counts [stripes]counterStripe
}

// New builds a Guard. Invalid prefixes in the lists are ignored; IPv4-mapped
// IPv6 prefixes are turned into IPv4 ones, as addresses are. Out-of-range
// values fall back to their defaults: New never fails.
func New(opt Options) *Guard {
	g := &Guard{
		deny:   newPrefixList(opt.Deny),
		exempt: newPrefixList(opt.Exempt),
		over:   opt.OverLimit,
		clock:  opt.Now,
		seed:   rand.Uint64(),
	}
	if len(opt.Allow) == 0 {
		g.allow = newPrefixList(DefaultAllow())
	} else {
		g.allow = newPrefixList(opt.Allow)
	}
	if g.over != Drop {
		g.over = Refuse
	}
	if g.clock == nil {
		g.base = time.Now()
	} else {
		g.base = g.clock()
	}

	g.clientMask[0] = maskOf(bitsOr(opt.Client6Bits, 128, defaultClient6Bits))
	g.clientMask[1] = maskOf(128)
	g.prefixMask[0] = maskOf(bitsOr(opt.Prefix6Bits, 128, defaultPrefix6Bits))
	g.prefixMask[1] = maskOf(96 + bitsOr(opt.Prefix4Bits, 32, defaultPrefix4Bits))

	n := opt.MaxClients
	if n <= 0 {
		n = defaultMaxClients
	}
	g.clientLim = newLimit(opt.ClientRate, opt.ClientBurst)
	g.prefixLim[0] = newLimit(opt.Prefix6Rate, opt.PrefixBurst)
	g.prefixLim[1] = newLimit(opt.Prefix4Rate, opt.PrefixBurst)
	if g.clientLim.on() {
		g.client = newTable(n, g.seed)
	}
	if g.prefixLim[0].on() || g.prefixLim[1].on() {
		g.prefix = newTable(n, g.seed^0x9e3779b97f4a7c15)
	}
	return g
}

// bitsOr returns bits if it is a usable prefix length for a family of
// width max, else def.
func bitsOr(bits, max, def int) int {
	if bits <= 0 || bits > max {
		return def
	}
	return bits
}

// Check decides one query from addr. It does not allocate.
func (g *Guard) Check(addr netip.Addr) (Action, Reason) {
	if !addr.IsValid() {
		return g.count(&g.counts[0], Refuse, NotAllowed)
	}
	// The key of a mapped address is its IPv4 key, and has no zone.
	k := keyFrom(addr)
	is4 := k.is4()
	fam := 0
	if is4 {
		fam = 1
	}
	ck := k.and(g.clientMask[fam])
	c := &g.counts[(ck.hi^ck.lo)*0x9e3779b97f4a7c15>>(64-stripeBits)]

	switch {
	case g.deny.contains(k, is4):
		return g.count(c, Refuse, Denied)
	case !g.allow.contains(k, is4):
		return g.count(c, Refuse, NotAllowed)
	}
	pl := g.prefixLim[fam]
	if (!g.clientLim.on() && !pl.on()) || g.exempt.contains(k, is4) {
		return g.count(c, Serve, Allowed)
	}

	now := g.nanos()
	if g.clientLim.on() && !g.client.take(ck, g.clientLim, now) {
		return g.count(c, g.over, ClientRate)
	}
	// A query the prefix bucket refuses has still cost its client a token:
	// the client asked, and a client that is not over its own limit loses
	// nothing by it. The reverse order would let one client drain its
	// network's bucket with queries its own limit refuses.
	if pl.on() && !g.prefix.take(k.and(g.prefixMask[fam]), pl, now) {
		return g.count(c, g.over, PrefixRate)
	}
	return g.count(c, Serve, Allowed)
}

// nanos is the time since New. The real clock is read through time.Since,
// which reads only the monotonic clock, at about half the cost of
// time.Now.
func (g *Guard) nanos() int64 {
	if g.clock == nil {
		return int64(time.Since(g.base))
	}
	return int64(g.clock().Sub(g.base))
}

func (g *Guard) count(c *counterStripe, a Action, r Reason) (Action, Reason) {
	c.n[r].Add(1)
	return a, r
}

// Stats are a Guard's counters since New.
type Stats struct {
	Served     uint64
	Denied     uint64 // refused: on the deny list
	NotAllowed uint64 // refused: outside the allow list
	ClientRate uint64 // over the client limit
	PrefixRate uint64 // over a prefix limit

	// Buckets not yet refilled to full, per table. A full bucket is the
	// same as no bucket, so it is not counted even while it holds a slot.
	ClientBuckets int
	PrefixBuckets int
	// Evicted counts buckets still in use that were dropped to make room,
	// a sign that MaxClients is too small or a spoofed flood is under way.
	Evicted uint64
}

// Stats returns the counters. It walks the bucket tables, locking one small
// set of buckets at a time, so it is meant for metrics scrapes, not for
// every query.
func (g *Guard) Stats() Stats {
	var s Stats
	for i := range g.counts {
		c := &g.counts[i]
		s.Served += c.n[Allowed].Load()
		s.Denied += c.n[Denied].Load()
		s.NotAllowed += c.n[NotAllowed].Load()
		s.ClientRate += c.n[ClientRate].Load()
		s.PrefixRate += c.n[PrefixRate].Load()
	}
	now := g.nanos()
	if g.client != nil {
		live, ev := g.client.stats(now)
		s.ClientBuckets, s.Evicted = live, s.Evicted+ev
	}
	if g.prefix != nil {
		live, ev := g.prefix.stats(now)
		s.PrefixBuckets, s.Evicted = live, s.Evicted+ev
	}
	return s
}
