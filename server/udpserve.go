package server

import (
	"encoding/binary"
	"net"
	"time"

	"github.com/havendns/haven/resolver"
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

// udpReply is one packed UDP answer on its way to the socket, with what is
// left to do once it is written.
type udpReply struct {
	wire []byte
	buf  *[]byte // pooled buffer wire lives in, or nil
	addr net.Addr
	oob  []byte // source address of the answer, on a wildcard socket

	q        *resolver.Query // nil for a header-only rejection: not observed
	rcode    int
	start    time.Time
	acquired bool // holds an in-flight place, given back once written
}

// udpAnswer answers one UDP query req that accept let through, from addr.
// It returns nil when the guard drops the query. The reply holds an
// in-flight place when acquired is set; done gives it back and observes.
func (h *handler) udpAnswer(req *dns.Msg, addr net.Addr, start time.Time, buf *[]byte) *udpReply {
	q := &resolver.Query{Msg: req, Client: clientAddr(addr), Proto: resolver.UDP}
	drop, resp := h.admit(req, q.Client)
	if drop {
		return nil
	}
	rep := &udpReply{addr: addr, q: q, start: start}
	if resp == nil {
		if !h.inflight.acquire(q.Client) {
			resp = h.busy(req)
		} else {
			rep.acquired = true
			resp = h.answer(q)
		}
	}
	resp.Truncate(limitForAmplification(q.Client, udpSize(req, h.opt.UDPSize)))
	rep.rcode = resp.Rcode
	out, err := resp.PackBuffer((*buf)[:cap(*buf)])
	if err != nil {
		// As miekg/dns's WriteMsg: nothing is sent, the query is still
		// observed.
		h.log.Debug("write answer", "client", q.Client, "err", err)
		return rep
	}
	rep.wire, rep.buf = out, buf
	return rep
}

// done finishes a reply once it has been written (or failed to be): its
// in-flight place is given back and the query observed, as ServeDNS does.
func (h *handler) done(rep *udpReply) {
	if rep.acquired {
		h.inflight.release(rep.q.Client)
	}
	if rep.q != nil && h.opt.Observe != nil {
		h.opt.Observe(rep.q, rep.rcode, time.Since(rep.start))
	}
}
