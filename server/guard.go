package server

import (
	"net/netip"

	"github.com/havendns/haven/server/access"
	"github.com/miekg/dns"
)

// Guard decides, before any other work, whether a query from an address is
// served; *access.Guard implements it.
type Guard interface {
	Check(addr netip.Addr) (access.Action, access.Reason)
}

// admit applies the guard to one query. It returns drop when the query
// gets no answer at all, and a REFUSED reply when it gets only that.
func (h *handler) admit(r *dns.Msg, client netip.Addr) (drop bool, refused *dns.Msg) {
	switch h.check(client) {
	case access.Drop:
		return true, nil
	case access.Refuse:
		return false, h.refusal(r)
	}
	return false, nil
}

// check applies the guard to one query from client, and counts a query
// turned away. It must be called once per query: it takes the query's
// token from the rate limits.
func (h *handler) check(client netip.Addr) access.Action {
	if h.opt.Guard == nil {
		return access.Serve
	}
	act, why := h.opt.Guard.Check(client)
	if act != access.Serve && h.opt.Refused != nil {
		h.opt.Refused(why.String())
	}
	return act
}

// refusal is the guard's REFUSED answer to r.
func (h *handler) refusal(r *dns.Msg) *dns.Msg {
	return reply(r, dns.RcodeRefused, r.IsEdns0(), h.opt.UDPSize, nil)
}

// amplificationSize is the largest UDP answer sent to a client outside the
// private ranges: a spoofed query then yields at most a small answer, so
// Haven opened to the internet is a poor amplifier, and a real client gets
// TC and asks again over TCP, which cannot be spoofed. Haven issues no DNS
// cookies (RFC 7873) that could prove an address over UDP, so no cookie,
// which anyone can forge, lifts the limit. Clients on the LAN keep the
// usual size.
const amplificationSize = 512

var private = access.DefaultAllow()

func limitForAmplification(client netip.Addr, size int) int {
	if size <= amplificationSize {
		return size
	}
	for _, p := range private {
		if p.Contains(client) {
			return size
		}
	}
	return amplificationSize
}

// anyAnswer is the minimal answer RFC 8482 recommends for ANY queries, which
// are almost only used for amplification: one synthesised HINFO record.
func anyAnswer(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = true
	m.Answer = []dns.RR{&dns.HINFO{
		Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: 3600},
		Cpu: "RFC8482",
	}}
	return m
}
