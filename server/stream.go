package server

import (
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

// What DoT and DoH share: both read whole DNS messages in wire format
// themselves (miekg/dns does that for UDP and TCP), so they check them here
// the way miekg/dns checks UDP and TCP messages before ServeDNS sees them,
// and answer them through the same handler.answer, without truncation.

// headerLen is the size of a DNS message header.
const headerLen = 12

// paddingBlock is the block size answers are padded to (RFC 8467 4.1).
const paddingBlock = 468

// serveStream answers one DNS message read from a DoT connection or a DoH
// request. q carries the client, the transport and the client id; write
// sends the answer, given as a message and packed. It reports false, writing
// nothing, for a message that gets no answer at all: shorter than a header,
// or itself a response.
func (h *handler) serveStream(wire []byte, q *resolver.Query, write func(m *dns.Msg, wire []byte) error) bool {
	start := time.Now()
	req, reject := accept(wire)
	if reject != nil {
		// A bare header always packs.
		out, _ := reject.Pack()
		if err := write(reject, out); err != nil {
			h.log.Debug("write answer", "client", q.Client, "proto", q.Proto, "err", err)
		}
		return true
	}
	if req == nil {
		return false
	}
	q.Msg = req
	drop, resp := h.admit(req, q.Client)
	if drop {
		return false
	}
	if resp == nil {
		if !h.inflight.acquire(q.Client) {
			resp = h.busy(req)
		} else {
			defer h.inflight.release(q.Client)
			resp = h.answer(q)
		}
	}
	pad(req, resp)
	out, err := resp.Pack()
	if err != nil {
		// Too big for 64 KiB, say: the client gets SERVFAIL, not silence.
		h.log.Debug("pack answer", "name", req.Question[0].Name, "err", err)
		q.Trace.Decision = resolver.Failed
		resp = reply(req, dns.RcodeServerFailure, req.IsEdns0(), h.opt.UDPSize, nil)
		out, _ = resp.Pack()
	}
	if err := write(resp, out); err != nil {
		h.log.Debug("write answer", "client", q.Client, "proto", q.Proto, "err", err)
	}
	if h.opt.Observe != nil {
		h.opt.Observe(q, resp.Rcode, time.Since(start))
	}
	return true
}

// accept checks a message with dns.DefaultMsgAcceptFunc, as miekg/dns does
// for UDP and TCP. It returns the parsed query to answer; or a FORMERR or
// NOTIMP reply carrying only the header for a message that is not one
// ordinary query or does not parse; or neither for a message that gets no
// answer at all.
func accept(wire []byte) (req, reject *dns.Msg) {
	if len(wire) < headerLen {
		return nil, nil
	}
	action := dns.DefaultMsgAcceptFunc(wireHeader(wire))
	if action == dns.MsgAccept {
		req = new(dns.Msg)
		if err := req.Unpack(wire); err == nil {
			return req, nil
		}
		action = dns.MsgReject
	}
	if action == dns.MsgIgnore {
		return nil, nil
	}
	// The header alone, its counts zeroed, unpacks into the header fields.
	var hdr [headerLen]byte
	copy(hdr[:4], wire)
	m := new(dns.Msg)
	if err := m.Unpack(hdr[:]); err != nil {
		return nil, nil
	}
	rejectAs(m, action)
	return nil, m
}

// rejectAs turns the request m into its FORMERR or NOTIMP answer, as
// miekg/dns's server does for what its accept function turns away.
func rejectAs(m *dns.Msg, action dns.MsgAcceptAction) {
	opcode := m.Opcode
	m.SetRcodeFormatError(m)
	m.Zero = false
	if action == dns.MsgRejectNotImplemented {
		m.Opcode = opcode
		m.Rcode = dns.RcodeNotImplemented
	}
}

// pad adds EDNS(0) padding (RFC 7830) to resp when the query was padded, so
// that an encrypted answer's length is a multiple of 468 bytes and says
// little about the name (RFC 8467). An answer without OPT is left alone.
func pad(req, resp *dns.Msg) {
	ro := req.IsEdns0()
	if ro == nil || !hasPadding(ro) {
		return
	}
	o := resp.IsEdns0()
	if o == nil {
		return
	}
	n := resp.Len() + 4 // option code and length
	p := (paddingBlock - n%paddingBlock) % paddingBlock
	if n+p > dns.MaxMsgSize {
		return
	}
	o.Option = append(o.Option, &dns.EDNS0_PADDING{Padding: make([]byte, p)})
}

func hasPadding(o *dns.OPT) bool {
	for _, opt := range o.Option {
		if opt.Option() == dns.EDNS0PADDING {
			return true
		}
	}
	return false
}

// validClientID reports whether id can name a client in a DoH path or a
// DoT server name: one DNS label of lower-case letters, digits and hyphens,
// not starting with a hyphen.
func validClientID(id string) bool {
	if len(id) == 0 || len(id) > 63 || id[0] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}
