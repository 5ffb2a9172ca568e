package server

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/havendns/haven/server/wirecache"
	"github.com/miekg/dns"
)

// What the batched UDP listener (udpbatch_linux.go) shares with the rest:
// it reads packets itself, so it checks them with accept, as DoT and DoH
// do, and answers them through admit, the in-flight limiter and answer,
// truncated as ServeDNS truncates, so that both UDP paths behave alike.

// acceptUDP is accept as miekg/dns's serveDNS does it for UDP, to the
// byte: a query whose records fail to parse after its header passed gets a
// FORMERR that keeps what parsed of the question, where accept (DoT, DoH)
// sends the header alone.
func acceptUDP(wire []byte) (req, reject *dns.Msg) {
	if len(wire) < headerLen {
		return nil, nil
	}
	be := binary.BigEndian
	dh := dns.Header{
		Id:      be.Uint16(wire[0:]),
		Bits:    be.Uint16(wire[2:]),
		Qdcount: be.Uint16(wire[4:]),
		Ancount: be.Uint16(wire[6:]),
		Nscount: be.Uint16(wire[8:]),
		Arcount: be.Uint16(wire[10:]),
	}
	action := dns.DefaultMsgAcceptFunc(dh)
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

// fastMeta is what the fast path keeps with an answer besides its wire:
// the query as Observe saw it the first time, to observe each replay.
type fastMeta struct {
	q     resolver.Query
	rcode int
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
	m := fastMeta{q: *q, rcode: rcode}
	qq := q.Msg.Question[0]
	// The replays' query: the name as the chain saw it, and no more of the
	// request than Observe reads.
	m.q.Msg = &dns.Msg{Question: []dns.Question{{Name: strings.ToLower(qq.Name), Qtype: qq.Qtype, Qclass: qq.Qclass}}}
	m.q.Client = netip.Addr{}
	m.q.Trace.Upstream = ""
	if m.q.Trace.Cache == resolver.CacheMiss {
		m.q.Trace.Cache = resolver.CacheHit
	}
	h.fast.Store(k, wire, m, now, t.Valid)
}
