package policy

import (
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// Mode is how a blocked query is answered.
type Mode uint8

// Block answer modes.
const (
	NXDomain Mode = iota // NXDOMAIN with an SOA, so the negative answer caches for TTL
	Null                 // 0.0.0.0 for A, :: for AAAA, NODATA for other types
	Refused              // REFUSED
	Address              // a block page's address(es); NODATA for types without one
)

// Answer says how blocked queries are answered.
type Answer struct {
	Mode Mode
	IPv4 netip.Addr    // for Address: the A answer; invalid means NODATA
	IPv6 netip.Addr    // for Address: the AAAA answer; invalid means NODATA
	TTL  time.Duration // TTL of the answer and of its SOA; 0 means 60s
}

// defaultBlockTTL is how long clients may cache a block answer when the
// config says nothing.
const defaultBlockTTL = 60 * time.Second

// blockedNS and blockedMbox name the synthetic SOA of block answers. They sit
// under .invalid (RFC 6761) so they can never be mistaken for a real zone.
const (
	blockedNS   = "blocked.haven.invalid."
	blockedMbox = "hostmaster.haven.invalid."
)

// Build returns the answer to a blocked query. The answer carries an
// Extended DNS Error (RFC 8914) with info code 17, Filtered, and a text
// naming the category, so clients and logs can tell a filter answer from a
// real NXDOMAIN; the server passes it on only to clients that sent EDNS.
func (a Answer) Build(req *dns.Msg, category string) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	q := req.Question[0]
	if a.TTL <= 0 {
		a.TTL = defaultBlockTTL
	}
	ttl := uint32(a.TTL / time.Second)
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	switch a.Mode {
	case NXDomain:
		m.Rcode = dns.RcodeNameError
	case Refused:
		m.Rcode = dns.RcodeRefused
	case Null:
		switch q.Qtype {
		case dns.TypeA:
			m.Answer = []dns.RR{&dns.A{Hdr: hdr(dns.TypeA), A: netip.IPv4Unspecified().AsSlice()}}
		case dns.TypeAAAA:
			m.Answer = []dns.RR{&dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: netip.IPv6Unspecified().AsSlice()}}
		}
	case Address:
		switch {
		case q.Qtype == dns.TypeA && a.IPv4.IsValid():
			m.Answer = []dns.RR{&dns.A{Hdr: hdr(dns.TypeA), A: a.IPv4.AsSlice()}}
		case q.Qtype == dns.TypeAAAA && a.IPv6.IsValid():
			m.Answer = []dns.RR{&dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: a.IPv6.AsSlice()}}
		}
	}
	// NXDOMAIN and NODATA need an SOA for negative caching (RFC 2308).
	if m.Rcode == dns.RcodeNameError || (m.Rcode == dns.RcodeSuccess && len(m.Answer) == 0) {
		m.Ns = []dns.RR{&dns.SOA{
			Hdr: hdr(dns.TypeSOA), Ns: blockedNS, Mbox: blockedMbox,
			Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: ttl,
		}}
	}
	m.Extra = []dns.RR{filteredOPT(category)}
	return m
}

func filteredOPT(category string) *dns.OPT {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.Option = []dns.EDNS0{&dns.EDNS0_EDE{
		InfoCode:  dns.ExtendedErrorCodeFiltered,
		ExtraText: "blocked by Haven: " + category,
	}}
	return o
}
