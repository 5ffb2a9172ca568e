// Package resolver defines the contract every step of Haven's query chain
// implements: a step takes a query and either answers it or passes it on to
// the next step it was built with. The steps themselves live in their own
// packages (policy, resolver/cache, resolver/upstream); the chain is put
// together in one place, internal/haven.
package resolver

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// Resolver answers a query. A returned error means no answer could be
// produced (the server turns it into SERVFAIL); a block, NXDOMAIN or REFUSED
// answer is an ordinary answer, never an error.
type Resolver interface {
	Resolve(ctx context.Context, q *Query) (*dns.Msg, error)
}

// Func adapts a function to the Resolver interface.
type Func func(ctx context.Context, q *Query) (*dns.Msg, error)

// Resolve calls f.
func (f Func) Resolve(ctx context.Context, q *Query) (*dns.Msg, error) { return f(ctx, q) }

// Proto is the transport a query arrived on.
type Proto uint8

// Transports a query can arrive on.
const (
	UDP Proto = iota
	TCP
	DoT // DNS over TLS, RFC 7858
	DoH // DNS over HTTPS, RFC 8484
)

func (p Proto) String() string {
	switch p {
	case UDP:
		return "udp"
	case TCP:
		return "tcp"
	case DoT:
		return "dot"
	case DoH:
		return "doh"
	}
	return "unknown"
}

// Query is one DNS question on its way through the chain.
type Query struct {
	// Msg is the request. The server guarantees exactly one question,
	// class IN or CH, and a lower-cased, fully qualified name. Steps must not
	// modify it; they build their answers from a copy or a new message.
	Msg    *dns.Msg
	Client netip.Addr // the asking client's address
	Proto  Proto      // the transport the query arrived on
	// ClientID is the client id a DoH path (/dns-query/<id>) or a DoT
	// server name (<id>.dns.example.net) carried; "" for plain DNS.
	ClientID string

	// Trace is written by the steps as the query passes, so that the
	// server, logs and metrics can say why the answer is what it is.
	Trace Trace

	// Prefetched, when set, is the upstream's answer, fetched by the
	// server before the chain ran (see Prefetched).
	Prefetched *Prefetched
}

// Prefetched is an upstream answer the server fetched itself before
// running the chain: the batched UDP listener sends the queries the policy
// forwards upstream in batches, and runs the chain once the answer is in,
// in a goroutine that must never wait on the network. So every step runs
// as it always does, but the forwarder answers with Msg instead of asking
// an upstream, and the cache neither waits for nor leads a flight.
type Prefetched struct {
	Msg      *dns.Msg // the answer, its question checked against the query's
	Upstream string   // who answered, for Trace.Upstream
	// RTT is how long the answer took, for the upstream's health and
	// status: a prefetched answer counts as an exchange with it.
	RTT time.Duration
	// Refused is set by a step that would have had to wait on the network
	// after all (the query changed under a new policy, say): the chain's
	// answer is then not to be used, and the server asks it again without
	// the prefetched answer.
	Refused bool
}

// ErrWouldWait is the error of a step that refuses a prefetched query
// (see Prefetched.Refused).
var ErrWouldWait = errors.New("the prefetched answer does not answer this query")

// Name returns the question name (lower case, fully qualified).
func (q *Query) Name() string { return q.Msg.Question[0].Name }

// Type returns the question type.
func (q *Query) Type() uint16 { return q.Msg.Question[0].Qtype }

// Decision says what the chain did with a query.
type Decision uint8

// Decisions, in the order a log would sort them.
const (
	Allowed   Decision = iota // forwarded or answered from cache
	Blocked                   // answered by the filter
	Rewritten                 // answered with a rewrite (SafeSearch, local name)
	Failed                    // no answer could be had (SERVFAIL)
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "allowed"
	case Blocked:
		return "blocked"
	case Rewritten:
		return "rewritten"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// CacheResult says how the cache took part in an answer.
type CacheResult uint8

// Cache results.
const (
	CacheNone  CacheResult = iota // the cache was not consulted (blocked before it)
	CacheMiss                     // fetched from upstream
	CacheHit                      // answered from a fresh entry
	CacheStale                    // answered from an expired entry (RFC 8767)
)

func (c CacheResult) String() string {
	switch c {
	case CacheMiss:
		return "miss"
	case CacheHit:
		return "hit"
	case CacheStale:
		return "stale"
	}
	return "none"
}

// Trace records why a query got the answer it got.
type Trace struct {
	Device   string // the configured device the query was matched to, if any
	Profile  string // the policy profile that decided
	Decision Decision
	Category string // for Blocked: the category that matched
	Rule     string // for Blocked or an allow exception: the rule that decided
	Source   string // the list source the rule came from
	Cache    CacheResult
	Upstream string // the upstream that answered, if any
	// Valid is how long the decision holds, when less than forever: until
	// the next schedule boundary, or the end of the pause or exception in
	// force. Answers are not kept past it (their TTLs are capped to it).
	Valid time.Duration
}
