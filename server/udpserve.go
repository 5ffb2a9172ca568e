package server

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/havendns/haven/server/wirecache"
	"github.com/miekg/dns"
)

// What the batched UDP listener (udpbatch_linux.go) shares with the rest:
// it reads packets itself, so it checks them with acceptUDP, and answers
// them through check (the guard), the in-flight limiter and answer,
// truncated as ServeDNS truncates, so that both UDP paths behave alike;
// and what its fast path keeps of an answer to replay it.

// acceptUDP is accept as miekg/dns's serveDNS does it for UDP, to the
// byte: a query whose records fail to parse after its header passed gets a
// FORMERR that keeps what parsed of the question, where accept (DoT, DoH)
// sends the header alone.
func acceptUDP(wire []byte) (req, reject *dns.Msg) {
	if len(wire) < headerLen {
		return nil, nil
	}
	action := dns.DefaultMsgAcceptFunc(wireHeader(wire))
	m := new(dns.Msg)
	switch action {
	case dns.MsgIgnore:
		return nil, nil
	case dns.MsgAccept:
		err := m.Unpack(wire)
		if err == nil {
			return m, nil
		}
		// m keeps what parsed before the error, as miekg/dns's does.
	default:
		// The header alone, its counts zeroed, unpacks into the header
		// fields.
		var hdr [headerLen]byte
		copy(hdr[:4], wire)
		if err := m.Unpack(hdr[:]); err != nil {
			return nil, nil
		}
	}
	rejectAs(m, action)
	m.Ns, m.Answer, m.Extra = nil, nil, nil
	return nil, m
}

// wireHeader decodes the header of wire, at least headerLen bytes long,
// for dns.DefaultMsgAcceptFunc, which judges a packet before it is
// unpacked.
func wireHeader(wire []byte) dns.Header {
	be := binary.BigEndian
	return dns.Header{
		Id:      be.Uint16(wire[0:]),
		Bits:    be.Uint16(wire[2:]),
		Qdcount: be.Uint16(wire[4:]),
		Ancount: be.Uint16(wire[6:]),
		Nscount: be.Uint16(wire[8:]),
		Arcount: be.Uint16(wire[10:]),
	}
}

// fastMeta is what the fast path keeps with an answer besides its wire:
// enough of the first query to observe each replay as Observe saw it.
type fastMeta struct {
	trace *resolver.Trace // shared by the answers decided alike
	qtype uint16
	rcode uint16
}

// keep offers wire, the answer to q written to its client, to the fast
// path under k. Answers that are not the chain's settled word are not
// kept: failures, stale answers (kept, they would not be refreshed), and
// rcodes other than NOERROR and NXDOMAIN.
func (h *handler) keep(k *wirecache.Key, wire []byte, q *resolver.Query, rcode int, now time.Time) {
	t := q.Trace
	if t.Decision == resolver.Failed || t.Cache == resolver.CacheStale ||
		(rcode != dns.RcodeSuccess && rcode != dns.RcodeNameError) {
		return
	}
	// An answer out of the response cache is a name asked before: it need
	// not wait for a second sight to be replayed.
	seen := t.Cache == resolver.CacheHit
	// A replay comes from no upstream, out of a cache.
	t.Upstream, t.Valid = "", 0
	if t.Cache == resolver.CacheMiss {
		t.Cache = resolver.CacheHit
	}
	m := fastMeta{trace: h.traces.intern(t), qtype: q.Msg.Question[0].Qtype, rcode: uint16(rcode)}
	h.fast.Store(k, wire, m, now, q.Trace.Valid, seen)
}

// traces interns the traces the fast path keeps: most answers of a
// profile share one (allowed, same device and profile, a cache hit).
type traces struct {
	mu sync.Mutex
	m  map[resolver.Trace]*resolver.Trace
}

// maxTraces bounds the interning table; blocked answers name their rule,
// so their traces are many. Past it the table starts afresh (entries keep
// theirs).
const maxTraces = 4096

func (ts *traces) intern(t resolver.Trace) *resolver.Trace {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if p, ok := ts.m[t]; ok {
		return p
	}
	if ts.m == nil || len(ts.m) >= maxTraces {
		ts.m = make(map[resolver.Trace]*resolver.Trace)
	}
	// A copy, not &t: t would then live on the heap, one allocation per
	// call, found or not.
	p := new(resolver.Trace)
	*p = t
	ts.m[t] = p
	return p
}
