package server

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestParseFast(t *testing.T) {
	pack := func(m *dns.Msg) []byte {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	q := func(name string, qtype uint16, edit func(m *dns.Msg)) []byte {
		m := query(name, qtype)
		if edit != nil {
			edit(m)
		}
		return pack(m)
	}
	edns := func(size uint16, do bool, opts ...dns.EDNS0) func(m *dns.Msg) {
		return func(m *dns.Msg) {
			m.SetEdns0(size, do)
			m.IsEdns0().Option = opts
		}
	}
	tests := []struct {
		name      string
		pkt       []byte
		ok        bool
		flags     uint16
		size      int
		lowerName string
	}{
		{"plain", q("WwW.Example.COM.", dns.TypeA, nil), true, fastRD, 512, "www.example.com."},
		{"root", q(".", dns.TypeNS, nil), true, fastRD, 512, "."},
		{"EDNS DO", q("example.com.", dns.TypeAAAA, edns(4096, true)), true, fastRD | fastEDNS | fastDO, 4096, "example.com."},
		{"small EDNS size", q("example.com.", dns.TypeA, edns(100, false)), true, fastRD | fastEDNS, 512, "example.com."},
		{"cookie", q("example.com.", dns.TypeA, edns(1232, false, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})), true, fastRD | fastEDNS, 1232, "example.com."},
		{"CD and no RD", q("example.com.", dns.TypeA, func(m *dns.Msg) { m.CheckingDisabled, m.RecursionDesired = true, false }), true, fastCD, 512, "example.com."},
		{"AD", q("example.com.", dns.TypeA, func(m *dns.Msg) { m.AuthenticatedData = true }), true, fastRD | fastAD, 512, "example.com."},
		{"underscore and digits", q("_dmarc.x-1.example.", dns.TypeTXT, nil), true, fastRD, 512, "_dmarc.x-1.example."},
		{"NSID option", q("example.com.", dns.TypeA, edns(1232, false, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})), false, 0, 0, ""},
		{"EDNS version 1", q("example.com.", dns.TypeA, func(m *dns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetVersion(1) }), false, 0, 0, ""},
		{"ANY", q("example.com.", dns.TypeANY, nil), false, 0, 0, ""},
		{"AXFR", q("example.com.", dns.TypeAXFR, nil), false, 0, 0, ""},
		{"OPT as qtype", q("example.com.", dns.TypeOPT, nil), false, 0, 0, ""},
		{"class CH", q("version.bind.", dns.TypeTXT, func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }), false, 0, 0, ""},
		{"response", q("example.com.", dns.TypeA, func(m *dns.Msg) { m.Response = true }), false, 0, 0, ""},
		{"NOTIFY", q("example.com.", dns.TypeA, func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }), false, 0, 0, ""},
		{"escaped dot in a label", q(`a\.b.example.`, dns.TypeA, nil), false, 0, 0, ""},
		{"space in a label", q(`a\032b.example.`, dns.TypeA, nil), false, 0, 0, ""},
		{"two questions", q("example.com.", dns.TypeA, func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }), false, 0, 0, ""},
		{"an answer record", q("example.com.", dns.TypeA, func(m *dns.Msg) {
			rr, _ := dns.NewRR("example.com. 60 IN A 192.0.2.1")
			m.Answer = []dns.RR{rr}
		}), false, 0, 0, ""},
		{"trailing byte", append(q("example.com.", dns.TypeA, nil), 0), false, 0, 0, ""},
		{"cut short", q("example.com.", dns.TypeA, nil)[:20], false, 0, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f fastQuery
			ok := parseFast(tc.pkt, &f)
			if ok != tc.ok {
				t.Fatalf("fast %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if f.flags != tc.flags || f.size != tc.size {
				t.Errorf("flags %05b size %d, want %05b %d", f.flags, f.size, tc.flags, tc.size)
			}
			name, _, err := dns.UnpackDomainName(f.lowerName(), 0)
			if err != nil || name != tc.lowerName {
				t.Errorf("name %q (%v), want %q", name, err, tc.lowerName)
			}
		})
	}
}

// FuzzParseFast checks the fast path's reading of a query against
// miekg/dns's: whatever parseFast takes, miekg/dns must unpack to a single
// question of the same name (in lower case), type and EDNS bits.
//
//	go test -run '^$' -fuzz FuzzParseFast -fuzztime 60s ./server/
func FuzzParseFast(f *testing.F) {
	for _, m := range []*dns.Msg{query("example.com.", dns.TypeA), query("WWW.Example.ORG.", dns.TypeHTTPS)} {
		b, _ := m.Pack()
		f.Add(b)
		m.SetEdns0(1232, true)
		b, _ = m.Pack()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var fq fastQuery
		if !parseFast(pkt, &fq) {
			return
		}
		m := new(dns.Msg)
		if err := m.Unpack(pkt); err != nil {
			t.Fatalf("fast path took a packet miekg/dns rejects: %v", err)
		}
		if len(m.Question) != 1 || m.Response || m.Opcode != dns.OpcodeQuery || len(m.Answer)+len(m.Ns) != 0 {
			t.Fatalf("fast path took %v", m)
		}
		q := m.Question[0]
		name, _, err := dns.UnpackDomainName(fq.lowerName(), 0)
		if err != nil || name != strings.ToLower(q.Name) || fq.qtype != q.Qtype || q.Qclass != dns.ClassINET {
			t.Fatalf("read %q/%d, miekg/dns %q/%d/%d", name, fq.qtype, q.Name, q.Qtype, q.Qclass)
		}
		o := m.IsEdns0()
		if (o != nil) != (fq.flags&fastEDNS != 0) || (o != nil && o.Do() != (fq.flags&fastDO != 0)) {
			t.Fatalf("EDNS read %05b, miekg/dns %v", fq.flags, o)
		}
		if (fq.flags&fastRD != 0) != m.RecursionDesired || (fq.flags&fastCD != 0) != m.CheckingDisabled {
			t.Fatalf("flags read %05b, miekg/dns RD %v CD %v", fq.flags, m.RecursionDesired, m.CheckingDisabled)
		}
	})
}
