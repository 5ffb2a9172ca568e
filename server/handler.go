package server

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/havendns/haven/server/wirecache"
	"github.com/miekg/dns"
)

// handler turns one wire query into one answer. miekg/dns has already
// rejected what is not a single-question query (FORMERR/NOTIMP) and dropped
// what cannot be parsed at all.
type handler struct {
	opt      Options
	log      *slog.Logger
	inflight *inflightLimiter
	fast     *wirecache.Cache[fastMeta] // nil without the fast path
	traces   traces                     // of the fast path's answers
}

func (h *handler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	start := time.Now()
	q := &resolver.Query{Msg: r, Client: clientAddr(w.RemoteAddr()), Proto: resolver.UDP}
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		q.Proto = resolver.TCP
	}
	drop, resp := h.admit(r, q.Client)
	if drop {
		return
	}
	if resp == nil {
		if !h.inflight.acquire(q.Client) {
			resp = h.busy(r)
		} else {
			// Held until the answer is written: a client that is slow to
			// take its answers holds its places too.
			defer h.inflight.release(q.Client)
			resp = h.answer(q)
		}
	}
	if q.Proto == resolver.UDP {
		resp.Truncate(limitForAmplification(q.Client, udpSize(r, h.opt.UDPSize)))
	}
	if err := w.WriteMsg(resp); err != nil {
		h.log.Debug("write answer", "client", q.Client, "err", err)
	}
	if h.opt.Observe != nil {
		h.opt.Observe(q, resp.Rcode, time.Since(start))
	}
}

// answer runs the chain and shapes its result into a reply to r. It always
// returns a message: a failing or panicking chain gives SERVFAIL.
func (h *handler) answer(q *resolver.Query) (resp *dns.Msg) {
	r := q.Msg
	reqOPT := r.IsEdns0()
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("panic answering query", "question", r.Question, "panic", p)
			q.Trace.Decision = resolver.Failed
			resp = reply(r, dns.RcodeServerFailure, reqOPT, h.opt.UDPSize, nil)
		}
	}()
	if len(r.Question) != 1 {
		// The header promised one question, but the packet ended before
		// it: miekg/dns keeps such a truncated message rather than failing.
		return reply(r, dns.RcodeFormatError, reqOPT, h.opt.UDPSize, nil)
	}
	if r.Opcode != dns.OpcodeQuery {
		// miekg/dns lets NOTIFY through for authoritative servers; a
		// forwarder has no zones to be notified about.
		return reply(r, dns.RcodeNotImplemented, reqOPT, h.opt.UDPSize, nil)
	}
	if reqOPT != nil && reqOPT.Version() != 0 {
		// RFC 6891 6.1.3: an unknown EDNS version gets BADVERS, nothing else.
		return reply(r, dns.RcodeBadVers, reqOPT, h.opt.UDPSize, nil)
	}
	qq := r.Question[0]
	if qq.Qclass != dns.ClassINET && qq.Qclass != dns.ClassCHAOS {
		return reply(r, dns.RcodeNotImplemented, reqOPT, h.opt.UDPSize, nil)
	}
	switch qq.Qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		return reply(r, dns.RcodeRefused, reqOPT, h.opt.UDPSize, nil)
	case dns.TypeANY:
		return shape(anyAnswer(r), r, reqOPT, h.opt.UDPSize)
	}
	// The chain sees the name in canonical (lower) case; the reply carries
	// the question exactly as asked (0x20 case randomisation relies on it).
	if name := strings.ToLower(qq.Name); name != qq.Name {
		cq := *r
		cq.Question = []dns.Question{{Name: name, Qtype: qq.Qtype, Qclass: qq.Qclass}}
		q.Msg = &cq
	}
	ctx := context.Background()
	if q.Prefetched == nil {
		// A prefetched query never waits (resolver.Prefetched): no timer.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.opt.Timeout)
		defer cancel()
	}
	ans, err := h.opt.Resolver.Resolve(ctx, q)
	q.Msg = r
	if err != nil || ans == nil {
		h.log.Debug("no answer", "name", qq.Name, "type", dns.TypeToString[qq.Qtype], "err", err)
		q.Trace.Decision = resolver.Failed
		return reply(r, dns.RcodeServerFailure, reqOPT, h.opt.UDPSize, nil)
	}
	return shape(ans, r, reqOPT, h.opt.UDPSize)
}

// shape makes the chain's answer a reply to r: r's ID and question, and an
// OPT record built here (the chain's own OPT contributes only its Extended
// DNS Errors, and only if the client speaks EDNS).
func shape(ans, r *dns.Msg, reqOPT *dns.OPT, size uint16) *dns.Msg {
	var ede []dns.EDNS0
	extra := ans.Extra[:0:0]
	for _, rr := range ans.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			for _, opt := range o.Option {
				if e, ok := opt.(*dns.EDNS0_EDE); ok {
					ede = append(ede, e)
				}
			}
			continue
		}
		extra = append(extra, rr)
	}
	ans.Extra = extra
	ans.Id = r.Id
	ans.Response = true
	ans.Opcode = r.Opcode
	ans.RecursionDesired = r.RecursionDesired
	ans.RecursionAvailable = true
	ans.CheckingDisabled = r.CheckingDisabled
	ans.Question = r.Question
	if reqOPT != nil {
		ans.Extra = append(ans.Extra, newOPT(size, reqOPT.Do(), ede))
	}
	return ans
}

// ReasonBusy is the reason given to Options.Refused for a query over an
// in-flight cap.
const ReasonBusy = "busy"

// busy is the answer to a query over an in-flight cap. REFUSED rather than
// SERVFAIL: it says "not from me, not now" without claiming the name
// broken, a stub moves on to its next server at once, and a resolver in
// front of Haven does not keep it as a failure of the name (RFC 2308 7.1
// lets SERVFAIL be cached for minutes). It is also what the guard's rate
// limit answers.
func (h *handler) busy(r *dns.Msg) *dns.Msg {
	if h.opt.Refused != nil {
		h.opt.Refused(ReasonBusy)
	}
	return reply(r, dns.RcodeRefused, r.IsEdns0(), h.opt.UDPSize, nil)
}

// reply is an answer with no records and the given rcode.
func reply(r *dns.Msg, rcode int, reqOPT *dns.OPT, size uint16, ede []dns.EDNS0) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = true
	m.Rcode = rcode
	// Extended rcodes (BADVERS = 16) need the OPT to carry their upper
	// bits; Pack puts them there.
	if reqOPT != nil {
		m.Extra = []dns.RR{newOPT(size, reqOPT.Do(), ede)}
	} else if rcode > 0xF {
		m.Rcode = dns.RcodeFormatError
	}
	return m
}

func newOPT(size uint16, do bool, ede []dns.EDNS0) *dns.OPT {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(size)
	if do {
		o.SetDo()
	}
	o.Option = ede
	return o
}

// udpSize is how big a UDP answer to r may be: what the client advertised,
// at least 512 and at most our own limit.
func udpSize(r *dns.Msg, max uint16) int {
	size := uint16(dns.MinMsgSize)
	if o := r.IsEdns0(); o != nil && o.UDPSize() > size {
		size = o.UDPSize()
	}
	if size > max {
		size = max
	}
	return int(size)
}

func clientAddr(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}
