package safesearch

import (
	"context"
	"errors"
	"fmt"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

// maxTTL caps the TTL of the synthesised CNAME, so that a change of
// settings reaches clients within five minutes.
const maxTTL = 300

// Resolve builds the answer to q for a name Rewrite rewrote to target: a
// CNAME from the name to target followed by target's records of q's type,
// obtained by asking next for (target, same type, same class), so that the
// shared cache and the upstreams do the work. The answer's rcode is next's
// (NXDOMAIN when target does not exist); the CNAME's TTL is the smallest TTL
// of the records that follow it, at most 300 seconds. q.Trace records the
// rewrite, and the cache and upstream that served target. An error from
// next is returned as an error.
//
// Every type is rewritten, AAAA, HTTPS and SVCB included, so that neither an
// address nor an address hint of the engine's own hosts gets through, except
// the types that describe the engine's zone and mail rather than its web
// host (NS, SOA, MX, TXT, CAA, DS, DNSKEY): those are passed to next
// unchanged, so that mail to, and verification of, an apex such as
// google.com keep working. A CNAME query is answered with the CNAME alone.
func Resolve(ctx context.Context, next resolver.Resolver, q *resolver.Query, target string) (*dns.Msg, error) {
	qtype := q.Type()
	if passThrough(qtype) {
		return next.Resolve(ctx, q)
	}
	target = dns.Fqdn(target)
	q.Trace.Decision = resolver.Rewritten
	q.Trace.Rule = rule(target)

	qq := q.Msg.Question[0]
	cname := &dns.CNAME{
		Hdr:    dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeCNAME, Class: qq.Qclass, Ttl: maxTTL},
		Target: target,
	}
	resp := new(dns.Msg)
	resp.SetReply(q.Msg)
	resp.RecursionAvailable = true
	if qtype == dns.TypeCNAME {
		resp.Answer = []dns.RR{cname}
		return resp, nil
	}

	sub := subQuery(q, target)
	r, err := next.Resolve(ctx, sub)
	q.Trace.Cache = sub.Trace.Cache
	q.Trace.Upstream = sub.Trace.Upstream
	if err == nil && r == nil {
		err = errors.New("no answer")
	}
	if err != nil {
		return nil, fmt.Errorf("safesearch: resolve %s %s for %s: %w", target, dns.Type(qtype), qq.Name, err)
	}

	resp.Rcode = r.Rcode
	cname.Hdr.Ttl = cnameTTL(r)
	resp.Answer = make([]dns.RR, 0, 1+len(r.Answer))
	resp.Answer = append(resp.Answer, cname)
	// Copies, so that nothing the answer shares with a cached message can
	// be changed through it.
	resp.Answer = appendCopies(resp.Answer, r.Answer)
	resp.Ns = appendCopies(nil, r.Ns)
	// next's OPT goes along: the server keeps its Extended DNS Errors
	// (a stale answer's, say) and builds the rest itself.
	resp.Extra = appendCopies(nil, r.Extra)
	return resp, nil
}

// passThrough reports whether queries of type t skip the rewrite.
func passThrough(t uint16) bool {
	switch t {
	case dns.TypeNS, dns.TypeSOA, dns.TypeMX, dns.TypeTXT, dns.TypeCAA,
		dns.TypeDS, dns.TypeDNSKEY:
		return true
	}
	return false
}

func rule(target string) string {
	if e, ok := engineOf(target); ok {
		return e.String() + " safesearch → " + target
	}
	return "safesearch → " + target
}

// subQuery is the question for target that q's answer needs. It asks for
// recursion whatever the client asked, and keeps the client's CD bit and
// EDNS buffer size and DO bit, which decide what the answer may hold.
func subQuery(q *resolver.Query, target string) *resolver.Query {
	in := q.Msg
	qq := in.Question[0]
	m := new(dns.Msg)
	m.Id = dns.Id()
	m.RecursionDesired = true
	m.CheckingDisabled = in.CheckingDisabled
	m.Question = []dns.Question{{Name: target, Qtype: qq.Qtype, Qclass: qq.Qclass}}
	if o := in.IsEdns0(); o != nil {
		m.SetEdns0(o.UDPSize(), o.Do())
	}
	return &resolver.Query{Msg: m, Client: q.Client, Proto: q.Proto}
}

// cnameTTL is the TTL for the CNAME in front of r's answer: no longer than
// any record after it lives, nor, for a negative answer, than the negative
// answer may be cached (RFC 2308 section 5), nor than maxTTL.
func cnameTTL(r *dns.Msg) uint32 {
	ttl := uint32(maxTTL)
	for _, rr := range r.Answer {
		ttl = min(ttl, rr.Header().Ttl)
	}
	if len(r.Answer) == 0 {
		for _, rr := range r.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				ttl = min(ttl, soa.Hdr.Ttl, soa.Minttl)
			}
		}
	}
	return ttl
}

func appendCopies(dst, src []dns.RR) []dns.RR {
	for _, rr := range src {
		dst = append(dst, dns.Copy(rr))
	}
	return dst
}
