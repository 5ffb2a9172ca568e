// Package nullresp is the fastest DNS answerer that still speaks correct
// DNS over miekg/dns: every reply is a prebuilt answer record behind the
// query's own header and question, with no parsing beyond what the
// miekg/dns server already does and no packing of a dns.Msg. haven-bench
// runs it as the null responder (the floor for a Go DNS server built like
// Haven's) and as the fake upstream Haven and Unbound forward to.
package nullresp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"

	"github.com/miekg/dns"
)

// Options say what the Handler answers.
type Options struct {
	A    netip.Addr // the address of every A answer; invalid = no A answers (NODATA)
	AAAA netip.Addr // the address of every AAAA answer; invalid = no AAAA answers
	TTL  uint32     // of every answer
}

// Handler answers A and AAAA queries with the fixed address of Options and
// every other type with NOERROR and no answer (NODATA). A message without
// exactly one question gets FORMERR. It is a dns.Handler and safe for
// concurrent use.
type Handler struct {
	a, aaaa []byte // prebuilt answer records, owner name compressed to the question
	bufs    sync.Pool
}

// New returns a Handler answering as opt says.
func New(opt Options) (*Handler, error) {
	h := &Handler{bufs: sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}}
	if opt.A.IsValid() {
		if !opt.A.Is4() {
			return nil, fmt.Errorf("nullresp: A address %s is not IPv4", opt.A)
		}
		h.a = answerRR(dns.TypeA, opt.TTL, opt.A.AsSlice())
	}
	if opt.AAAA.IsValid() {
		if !opt.AAAA.Is6() || opt.AAAA.Is4In6() {
			return nil, fmt.Errorf("nullresp: AAAA address %s is not IPv6", opt.AAAA)
		}
		h.aaaa = answerRR(dns.TypeAAAA, opt.TTL, opt.AAAA.AsSlice())
	}
	return h, nil
}

// answerRR is the wire form of one answer record whose owner is a
// compression pointer to the question name, which always sits at offset 12.
func answerRR(typ uint16, ttl uint32, rdata []byte) []byte {
	b := []byte{0xC0, 12}
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, dns.ClassINET)
	b = binary.BigEndian.AppendUint32(b, ttl)
	b = binary.BigEndian.AppendUint16(b, uint16(len(rdata)))
	return append(b, rdata...)
}

// ServeDNS writes the reply to r. A reply that cannot be built (a name
// miekg/dns accepted but cannot pack again) is dropped, as a server drops
// garbage.
func (h *Handler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	bp := h.bufs.Get().(*[]byte)
	defer h.bufs.Put(bp)
	out, err := h.AppendReply((*bp)[:0], r)
	if err != nil {
		return
	}
	*bp = out
	_, _ = w.Write(out)
}

// AppendReply appends the wire form of the reply to r to buf.
func (h *Handler) AppendReply(buf []byte, r *dns.Msg) ([]byte, error) {
	// Header: ID, then QR, the query's opcode and RD, RA; rcode below.
	flags := uint16(1<<15) | uint16(r.Opcode&0xF)<<11 | 1<<7
	if r.RecursionDesired {
		flags |= 1 << 8
	}
	if len(r.Question) != 1 {
		buf = binary.BigEndian.AppendUint16(buf, r.Id)
		buf = binary.BigEndian.AppendUint16(buf, flags|dns.RcodeFormatError)
		return append(buf, 0, 0, 0, 0, 0, 0, 0, 0), nil
	}
	q := r.Question[0]
	var rr []byte
	if q.Qclass == dns.ClassINET {
		switch q.Qtype {
		case dns.TypeA:
			rr = h.a
		case dns.TypeAAAA:
			rr = h.aaaa
		}
	}
	var ancount uint16
	if rr != nil {
		ancount = 1
	}
	start := len(buf)
	buf = binary.BigEndian.AppendUint16(buf, r.Id)
	buf = binary.BigEndian.AppendUint16(buf, flags)
	buf = append(buf, 0, 1) // qdcount
	buf = binary.BigEndian.AppendUint16(buf, ancount)
	buf = append(buf, 0, 0, 0, 0) // nscount, arcount
	// PackDomainName writes into the slice's length, so make room for the
	// longest name first.
	nameAt := len(buf)
	buf = append(buf, make([]byte, 256)...)
	end, err := dns.PackDomainName(q.Name, buf[start:], nameAt-start, nil, false)
	if err != nil {
		return buf[:start], fmt.Errorf("nullresp: question %q: %w", q.Name, err)
	}
	buf = buf[:start+end]
	buf = binary.BigEndian.AppendUint16(buf, q.Qtype)
	buf = binary.BigEndian.AppendUint16(buf, q.Qclass)
	return append(buf, rr...), nil
}
