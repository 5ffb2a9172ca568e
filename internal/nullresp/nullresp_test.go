package nullresp

import (
	"context"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

func newServer(tb testing.TB) string {
	tb.Helper()
	h, err := New(Options{A: netip.MustParseAddr("192.0.2.1"), AAAA: netip.MustParseAddr("2001:db8::1"), TTL: 3600})
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := Listen("127.0.0.1:0", h)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return srv.Addr()
}

func TestAnswers(t *testing.T) {
	addr := newServer(t)
	tests := []struct {
		net, name string
		qtype     uint16
		want      string // the answer's data, "" for none
	}{
		{"udp", "example.com.", dns.TypeA, "192.0.2.1"},
		{"tcp", "example.com.", dns.TypeA, "192.0.2.1"},
		{"udp", "x.Example.ORG.", dns.TypeAAAA, "2001:db8::1"},
		{"udp", `we\.ird\ name.example.`, dns.TypeA, "192.0.2.1"},
		{"udp", "example.com.", dns.TypeTXT, ""},
		{"udp", ".", dns.TypeA, "192.0.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.net+" "+tt.name+" "+dns.TypeToString[tt.qtype], func(t *testing.T) {
			q := new(dns.Msg)
			q.SetQuestion(tt.name, tt.qtype)
			c := &dns.Client{Net: tt.net}
			r, _, err := c.Exchange(q, addr)
			if err != nil {
				t.Fatal(err)
			}
			if r.Id != q.Id || !r.Response || !r.RecursionDesired || !r.RecursionAvailable || r.Rcode != dns.RcodeSuccess {
				t.Fatalf("header: %v", r.MsgHdr)
			}
			if len(r.Question) != 1 || r.Question[0] != q.Question[0] {
				t.Fatalf("question %v, want %v", r.Question, q.Question)
			}
			if tt.want == "" {
				if len(r.Answer) != 0 {
					t.Fatalf("answer %v, want none", r.Answer)
				}
				return
			}
			if len(r.Answer) != 1 {
				t.Fatalf("answer %v, want one record", r.Answer)
			}
			rr := r.Answer[0]
			var got string
			switch rr := rr.(type) {
			case *dns.A:
				got = rr.A.String()
			case *dns.AAAA:
				got = rr.AAAA.String()
			}
			if got != tt.want || rr.Header().Ttl != 3600 || rr.Header().Name != tt.name {
				t.Fatalf("answer %v, want %s for %s TTL 3600", rr, tt.want, tt.name)
			}
		})
	}
}

func TestFormErr(t *testing.T) {
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	q := &dns.Msg{MsgHdr: dns.MsgHdr{Id: 77}}
	wire, err := h.AppendReply(nil, q)
	if err != nil {
		t.Fatal(err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(wire); err != nil {
		t.Fatal(err)
	}
	if r.Id != 77 || r.Rcode != dns.RcodeFormatError || len(r.Question)+len(r.Answer) != 0 {
		t.Fatalf("reply %v, want FORMERR id 77 and no sections", r)
	}
}

func TestNewRejectsWrongFamily(t *testing.T) {
	if _, err := New(Options{A: netip.MustParseAddr("::1")}); err == nil {
		t.Error("IPv6 A address accepted")
	}
	if _, err := New(Options{AAAA: netip.MustParseAddr("192.0.2.1")}); err == nil {
		t.Error("IPv4 AAAA address accepted")
	}
}

func BenchmarkAppendReply(b *testing.B) {
	h, err := New(Options{A: netip.MustParseAddr("192.0.2.1"), TTL: 3600})
	if err != nil {
		b.Fatal(err)
	}
	q := new(dns.Msg)
	q.SetQuestion("www.example.com.", dns.TypeA)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = h.AppendReply(buf[:0], q)
	}
}
