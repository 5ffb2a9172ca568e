package dnstest

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ednsSize is the UDP payload size the fakes advertise (DNS flag day 2020).
const ednsSize = 1232

// defaultSOA is the SOA the zone handler puts in negative answers when the
// records hold none above the name: a negative TTL of 60 s.
const defaultSOA = ". 60 IN SOA ns.dnstest. hostmaster.dnstest. 1 3600 600 86400 60"

// ZoneHandler answers from RRs in presentation format, such as
// "example.com. 300 IN A 192.0.2.1", as a recursive resolver would:
//
//   - records of the asked name and type (ANY: all of the name) are the answer;
//   - a CNAME is followed, as far as the given records go;
//   - a name with records but none of the type gets NODATA, and so does an
//     empty non-terminal (a name with records only below it);
//   - any other name gets NXDOMAIN.
//
// Negative answers carry the closest SOA among the records enclosing the
// name, or a root SOA with a 60 s negative TTL. A query with EDNS gets EDNS
// back, with its DO bit. A record that does not parse panics, like
// regexp.MustCompile: the records are the test's own literals.
func ZoneHandler(records ...string) dns.Handler {
	z := &zone{names: make(map[string][]dns.RR), parents: make(map[string]bool)}
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil || rr == nil {
			panic(fmt.Sprintf("dnstest: bad record %q: %v", s, err))
		}
		name := strings.ToLower(rr.Header().Name)
		z.names[name] = append(z.names[name], rr)
		for off, end := dns.NextLabel(name, 0); !end; off, end = dns.NextLabel(name, off) {
			z.parents[name[off:]] = true
		}
	}
	if len(z.names) > 0 {
		z.parents["."] = true
	}
	soa, _ := dns.NewRR(defaultSOA)
	z.soa = soa
	return z
}

type zone struct {
	names   map[string][]dns.RR
	parents map[string]bool // names with records below them
	soa     dns.RR
}

func (z *zone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := reply(r)
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	// Follow at most a few CNAMEs so that a loop in the records ends.
	for range 8 {
		rrs, ok := z.names[name]
		if !ok {
			if !z.parents[name] {
				m.Rcode = dns.RcodeNameError
			}
			m.Ns = []dns.RR{z.soaFor(name)}
			break
		}
		var match []dns.RR
		var cname dns.RR
		for _, rr := range rrs {
			h := rr.Header()
			if h.Class != q.Qclass && q.Qclass != dns.ClassANY {
				continue
			}
			if h.Rrtype == q.Qtype || q.Qtype == dns.TypeANY {
				match = append(match, rr)
			} else if h.Rrtype == dns.TypeCNAME {
				cname = rr
			}
		}
		if len(match) > 0 {
			m.Answer = append(m.Answer, match...)
			break
		}
		if cname == nil {
			m.Ns = []dns.RR{z.soaFor(name)}
			break
		}
		m.Answer = append(m.Answer, cname)
		name = strings.ToLower(cname.(*dns.CNAME).Target)
	}
	// Copies, so that a test modifying an answer cannot race another query.
	for i, rr := range m.Answer {
		m.Answer[i] = dns.Copy(rr)
	}
	for i, rr := range m.Ns {
		m.Ns[i] = dns.Copy(rr)
	}
	w.WriteMsg(m)
}

// soaFor returns the SOA of the closest enclosing name that has one.
func (z *zone) soaFor(name string) dns.RR {
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		for _, rr := range z.names[name[off:]] {
			if rr.Header().Rrtype == dns.TypeSOA {
				return rr
			}
		}
	}
	for _, rr := range z.names["."] {
		if rr.Header().Rrtype == dns.TypeSOA {
			return rr
		}
	}
	return z.soa
}

// reply starts an answer to r: header and question copied, RA set, and EDNS
// (with r's DO bit) if r had it.
func reply(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = true
	if o := r.IsEdns0(); o != nil {
		m.SetEdns0(ednsSize, o.Do())
	}
	return m
}

// RcodeHandler answers every query with rcode and nothing else, e.g.
// RcodeHandler(dns.RcodeServerFailure) for a failing upstream.
func RcodeHandler(rcode int) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := reply(r)
		m.Rcode = rcode
		w.WriteMsg(m)
	})
}

// DropHandler never answers: a black-holed upstream, for timeouts.
func DropHandler() dns.Handler {
	return dns.HandlerFunc(func(dns.ResponseWriter, *dns.Msg) {})
}

// DelayHandler waits d, then lets h answer: a slow upstream.
func DelayHandler(d time.Duration, h dns.Handler) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		time.Sleep(d)
		h.ServeDNS(w, r)
	})
}

// EchoHandler sends each query back as its own answer (Response bit set,
// everything else as received, OPT included), so a client sees what arrived.
func EchoHandler() dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := r.Copy()
		m.Response = true
		w.WriteMsg(m)
	})
}

// BigHandler answers an A query with n A records (10.0.0.1 onwards), about
// 16 bytes each: with n = 100 the answer needs TCP, and over UDP the fake
// sends it truncated (TC set). Other types get NODATA.
func BigHandler(n int) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := reply(r)
		if len(r.Question) == 1 && r.Question[0].Qtype == dns.TypeA {
			q := r.Question[0]
			ip := netip.AddrFrom4([4]byte{10, 0, 0, 0})
			for range n {
				ip = ip.Next()
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300},
					A:   ip.AsSlice(),
				})
			}
		}
		w.WriteMsg(m)
	})
}

// ModifyHandler lets h answer and then changes the answer with f before it is
// sent: for broken or spoofed upstreams.
func ModifyHandler(h dns.Handler, f func(*dns.Msg)) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		h.ServeDNS(modifyingWriter{w, f}, r)
	})
}

type modifyingWriter struct {
	dns.ResponseWriter
	f func(*dns.Msg)
}

func (w modifyingWriter) WriteMsg(m *dns.Msg) error {
	w.f(m)
	return w.ResponseWriter.WriteMsg(m)
}

// WrongIDHandler answers like h but with another message ID.
func WrongIDHandler(h dns.Handler) dns.Handler {
	return ModifyHandler(h, func(m *dns.Msg) { m.Id++ })
}

// WrongQuestionHandler answers like h but for the name "spoofed.invalid.".
func WrongQuestionHandler(h dns.Handler) dns.Handler {
	return ModifyHandler(h, func(m *dns.Msg) {
		if len(m.Question) > 0 {
			m.Question[0].Name = "spoofed.invalid."
		}
	})
}
