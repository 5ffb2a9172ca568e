package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

// Route sends the names under Domain to their own Group (conditional
// forwarding).
type Route struct {
	Domain string // fully qualified, "home.arpa."; case does not matter
	Group  *Group
}

// Forwarder is the last step of the chain: it asks the upstreams.
type Forwarder struct {
	def    *Group
	routes map[string]*Group // canonical domain -> group
}

// NewForwarder returns a Forwarder sending names under a route's Domain (the
// domain itself included) to its Group, the longest matching domain winning,
// and everything else to def. Of two routes for the same domain the first
// counts.
func NewForwarder(def *Group, routes []Route) *Forwarder {
	f := &Forwarder{def: def, routes: make(map[string]*Group, len(routes))}
	for _, r := range routes {
		d := dns.CanonicalName(r.Domain)
		if _, dup := f.routes[d]; !dup && r.Group != nil {
			f.routes[d] = r.Group
		}
	}
	return f
}

// Resolve forwards q and returns the upstream's answer, with q's ID,
// question and RD bit, and without the upstream's OPT record (the server adds
// its own). It records the answering upstream in q.Trace.Upstream. An error
// means no upstream gave an answer in time.
func (f *Forwarder) Resolve(ctx context.Context, q *resolver.Query) (*dns.Msg, error) {
	if q.Msg == nil || len(q.Msg.Question) != 1 {
		return nil, errors.New("forward: want exactly one question")
	}
	name := q.Name()
	g := f.group(name)
	if g == nil {
		return nil, fmt.Errorf("forward %s: no upstreams", name)
	}
	if p := q.Prefetched; p != nil {
		return prefetched(q, g, p)
	}
	uq := upstreamQuery(q.Msg)
	r, from, err := g.exchange(ctx, &uq.msg)
	uq.free()
	if from != "" {
		q.Trace.Upstream = from
	}
	if err != nil {
		return nil, fmt.Errorf("forward %s %s: %w", name, dns.Type(q.Type()), err)
	}
	return answerTo(q, r), nil
}

// prefetched is Resolve's answer from p, if p answers q; the answer
// counts as a success of the member of g that gave it.
func prefetched(q *resolver.Query, g *Group, p *resolver.Prefetched) (*dns.Msg, error) {
	r, want := p.Msg, q.Msg.Question[0]
	if r == nil || len(r.Question) != 1 || r.Question[0].Qtype != want.Qtype ||
		r.Question[0].Qclass != want.Qclass || !strings.EqualFold(r.Question[0].Name, want.Name) {
		p.Refused = true
		return nil, resolver.ErrWouldWait
	}
	q.Trace.Upstream = p.Upstream
	g.record(p.Upstream, p.RTT)
	return answerTo(q, r), nil
}

// answerTo makes r, an upstream's answer, the answer to q.
func answerTo(q *resolver.Query, r *dns.Msg) *dns.Msg {
	r.Id = q.Msg.Id
	// The client's spelling; in place, as check saw to one question.
	if len(r.Question) == 1 {
		r.Question[0] = q.Msg.Question[0]
	} else {
		r.Question = []dns.Question{q.Msg.Question[0]}
	}
	r.RecursionDesired = q.Msg.RecursionDesired
	r.Extra = withoutOPT(r.Extra)
	return r
}

// Target returns where Resolve would send a query for name first, if that
// is a healthy plain-UDP upstream at an IP address, and the upstream's
// name: where a server may send the query itself (see resolver.Prefetched).
func (f *Forwarder) Target(name string) (netip.AddrPort, string, bool) {
	g := f.group(name)
	if g == nil {
		return netip.AddrPort{}, "", false
	}
	return g.target()
}

// PackQuery packs into buf, with ID id, the query Resolve sends upstream
// for in, growing buf if it is too small: for a server that sends it
// itself (see Target).
func PackQuery(buf []byte, id uint16, in *dns.Msg) ([]byte, error) {
	uq := upstreamQuery(in)
	uq.msg.Id = id
	w, err := uq.msg.PackBuffer(buf)
	uq.free()
	return w, err
}

// Close closes the connections of all groups (see Group.Close).
func (f *Forwarder) Close() error {
	var errs []error
	if f.def != nil {
		errs = append(errs, f.def.Close())
	}
	for _, g := range f.routes {
		errs = append(errs, g.Close())
	}
	return errors.Join(errs...)
}

// group returns the Group for name: the route with the longest matching
// domain, or the default.
func (f *Forwarder) group(name string) *Group {
	if len(f.routes) == 0 {
		return f.def
	}
	name = strings.ToLower(dns.Fqdn(name))
	// From the full name towards the root, so the first match is the
	// longest; NextLabel steps over escaped dots.
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		if g, ok := f.routes[name[off:]]; ok {
			return g
		}
	}
	if g, ok := f.routes["."]; ok {
		return g
	}
	return f.def
}

// upstreamQuery builds the query sent upstream from the client's: only the
// question, a fresh ID, RD, and the client's DNSSEC wishes (DO, CD, AD).
// Nothing else of the client's goes out: no EDNS options (client subnet,
// cookies, padding). The caller frees it once the exchange is over: an
// Upstream keeps no reference to its query after Exchange returns.
func upstreamQuery(in *dns.Msg) *outQuery {
	uq := outQueries.Get().(*outQuery)
	m := &uq.msg
	m.Id = dns.Id()
	m.Opcode = dns.OpcodeQuery
	m.RecursionDesired = true
	m.CheckingDisabled = in.CheckingDisabled
	// AD in a query asks for AD in the answer (RFC 6840 5.7).
	m.AuthenticatedData = in.AuthenticatedData
	uq.question[0] = in.Question[0]
	m.Question = uq.question[:]
	uq.opt = dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	uq.opt.SetUDPSize(ednsSize)
	if o := in.IsEdns0(); o != nil && o.Do() {
		uq.opt.SetDo()
	}
	uq.extra[0] = &uq.opt
	m.Extra = uq.extra[:]
	return uq
}

// outQuery is an upstream query with room for its one question and OPT
// record: four allocations fewer per query forwarded than building it with
// new and SetEdns0.
type outQuery struct {
	msg      dns.Msg
	question [1]dns.Question
	opt      dns.OPT
	extra    [1]dns.RR
}

var outQueries = sync.Pool{New: func() any { return new(outQuery) }}

// free returns uq to the pool, dropping its references to the client's
// query.
func (uq *outQuery) free() {
	*uq = outQuery{}
	outQueries.Put(uq)
}

// withoutOPT returns extra without OPT records, in place.
func withoutOPT(extra []dns.RR) []dns.RR {
	out := extra[:0]
	for _, rr := range extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
