package safesearch

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

// testZone holds the safe hosts' records, with TTLs chosen so that each
// engine tests a different side of the TTL rule, and the engines' own
// records, which must never reach an answer.
const testZone = `
forcesafesearch.google.com. 3600 IN A 216.239.38.120
forcesafesearch.google.com. 3600 IN AAAA 2001:4860:4802:32::78
forcesafesearch.google.com. 3600 IN HTTPS 1 . alpn=h2,h3 ipv4hint=216.239.38.120
restrict.youtube.com. 600 IN A 216.239.38.120
restrict.youtube.com. 600 IN AAAA 2001:4860:4802:32::78
restrict.youtube.com. 600 IN HTTPS 1 . alpn=h2,h3
restrictmoderate.youtube.com. 600 IN A 216.239.38.119
restrictmoderate.youtube.com. 600 IN AAAA 2001:4860:4802:32::77
restrictmoderate.youtube.com. 600 IN HTTPS 1 . alpn=h2,h3
strict.bing.com. 1800 IN CNAME strict-bing-com.a-0001.a-msedge.net.
strict-bing-com.a-0001.a-msedge.net. 60 IN A 204.79.197.220
strict-bing-com.a-0001.a-msedge.net. 60 IN AAAA 2620:1ec:c11::200
strict-bing-com.a-0001.a-msedge.net. 60 IN HTTPS 1 . alpn=h2
safe.duckduckgo.com. 200 IN A 192.0.2.10
safe.duckduckgo.com. 200 IN AAAA 2001:db8::10
safe.duckduckgo.com. 200 IN HTTPS 1 . alpn=h2
familysearch.yandex.ru. 300 IN A 213.180.193.56
familysearch.yandex.ru. 300 IN AAAA 2a02:6b8::feed:a11
familysearch.yandex.ru. 300 IN HTTPS 1 . alpn=h2
strict-safe-search.ecosia.org. 30 IN A 192.0.2.20
strict-safe-search.ecosia.org. 30 IN AAAA 2001:db8::20
strict-safe-search.ecosia.org. 30 IN HTTPS 1 . alpn=h2
safesearch.pixabay.com. 299 IN A 192.0.2.30
safesearch.pixabay.com. 299 IN AAAA 2001:db8::30
safesearch.pixabay.com. 299 IN HTTPS 1 . alpn=h2
forcesafe.search.brave.com. 120 IN A 192.0.2.40
forcesafe.search.brave.com. 120 IN AAAA 2001:db8::40
forcesafe.search.brave.com. 120 IN HTTPS 1 . alpn=h2,h3

google.com. 300 IN A 198.51.100.1
google.com. 300 IN MX 10 smtp.google.com.
www.google.com. 300 IN A 198.51.100.1
www.google.com. 300 IN AAAA 2001:db8:bad::1
www.google.com. 300 IN HTTPS 1 . alpn=h2,h3 ipv4hint=198.51.100.1 ech=AEn+DQBFKwAgACABWIHUGj4u+PIggYXcR5JF0gYk3dCRioBW8uJq9H4mKAAIAAEAAQABAANAEnB1YmxpYy50bHMtZWNoLmRldgAA
www.google.co.uk. 300 IN A 198.51.100.2
www.youtube.com. 300 IN A 198.51.100.3
search.brave.com. 300 IN A 198.51.100.4
`

// engineAddrs are the engines' own addresses in testZone.
var engineAddrs = []string{"198.51.100.", "2001:db8:bad::"}

// newQuery returns the query the server would pass on: one question,
// lower case, RD set.
func newQuery(name string, qtype uint16) *resolver.Query {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return &resolver.Query{Msg: m, Client: netip.MustParseAddr("192.0.2.99"), Proto: resolver.UDP}
}

func TestResolve(t *testing.T) {
	zone := newFakeZone(t, testZone)
	addr := serve(t, zone)
	next := forwarder(addr)
	moderate := all
	moderate.YouTube = Moderate

	tests := []struct {
		name   string
		s      Settings
		engine string
		target string
		ttl    uint32 // of the CNAME
	}{
		{"www.google.com.", all, "google", "forcesafesearch.google.com.", 300},
		{"google.com.", all, "google", "forcesafesearch.google.com.", 300},
		{"www.google.co.uk.", all, "google", "forcesafesearch.google.com.", 300},
		{"www.youtube.com.", all, "youtube", "restrict.youtube.com.", 300},
		{"m.youtube.com.", moderate, "youtube", "restrictmoderate.youtube.com.", 300},
		{"www.bing.com.", all, "bing", "strict.bing.com.", 60},
		{"duckduckgo.com.", all, "duckduckgo", "safe.duckduckgo.com.", 200},
		{"www.yandex.com.tr.", all, "yandex", "familysearch.yandex.ru.", 300},
		{"www.ecosia.org.", all, "ecosia", "strict-safe-search.ecosia.org.", 30},
		{"www.pixabay.com.", all, "pixabay", "safesearch.pixabay.com.", 299},
		{"search.brave.com.", all, "brave", "forcesafe.search.brave.com.", 120},
	}
	for _, tt := range tests {
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeHTTPS} {
			t.Run(tt.name+"/"+dns.TypeToString[qtype], func(t *testing.T) {
				target, engine, ok := Rewrite(tt.name, tt.s)
				if !ok || target != tt.target || engine != tt.engine {
					t.Fatalf("Rewrite(%q) = %q, %q, %v", tt.name, target, engine, ok)
				}
				q := newQuery(tt.name, qtype)
				before := q.Msg.String()
				resp, err := Resolve(context.Background(), next, q, target)
				if err != nil {
					t.Fatalf("Resolve: %v", err)
				}
				if q.Msg.String() != before {
					t.Error("Resolve changed the request")
				}

				asked := zone.last()
				if want := (dns.Question{Name: target, Qtype: qtype, Qclass: dns.ClassINET}); asked == nil || asked.Question[0] != want {
					t.Errorf("next was asked %v, want %v", asked, want)
				}
				checkRewritten(t, resp, q, target, qtype, tt.ttl)

				wantRule := tt.engine + " safesearch → " + target
				if q.Trace.Decision != resolver.Rewritten || q.Trace.Rule != wantRule {
					t.Errorf("trace = %v %q, want rewritten %q", q.Trace.Decision, q.Trace.Rule, wantRule)
				}
				if q.Trace.Upstream != addr || q.Trace.Cache != resolver.CacheMiss {
					t.Errorf("trace upstream %q cache %v, want %q miss", q.Trace.Upstream, q.Trace.Cache, addr)
				}
			})
		}
	}
}

// checkRewritten checks that resp answers q with a CNAME to target followed
// by target's records of type qtype, and nothing of the engine's own.
func checkRewritten(t *testing.T, resp *dns.Msg, q *resolver.Query, target string, qtype uint16, ttl uint32) {
	t.Helper()
	if resp.Rcode != dns.RcodeSuccess || !resp.Response || resp.Id != q.Msg.Id || resp.Question[0] != q.Msg.Question[0] {
		t.Fatalf("answer is not a NOERROR reply to the request:\n%v", resp)
	}
	if len(resp.Answer) < 2 {
		t.Fatalf("answer has %d records, want a CNAME and target's records:\n%v", len(resp.Answer), resp)
	}
	c, ok := resp.Answer[0].(*dns.CNAME)
	if !ok || c.Hdr.Name != q.Name() || c.Target != target || c.Hdr.Class != dns.ClassINET {
		t.Fatalf("first record = %v, want %s CNAME %s", resp.Answer[0], q.Name(), target)
	}
	if c.Hdr.Ttl != ttl {
		t.Errorf("CNAME TTL = %d, want %d", c.Hdr.Ttl, ttl)
	}
	// The rest is the chain from target to records of the asked type.
	owner := target
	for i, rr := range resp.Answer[1:] {
		h := rr.Header()
		if h.Name != owner {
			t.Errorf("record %d owned by %s, want %s: %v", i+1, h.Name, owner, rr)
		}
		if cn, ok := rr.(*dns.CNAME); ok {
			owner = cn.Target
		} else if h.Rrtype != qtype {
			t.Errorf("record %d has type %s, want %s", i+1, dns.TypeToString[h.Rrtype], dns.TypeToString[qtype])
		}
	}
	if last := resp.Answer[len(resp.Answer)-1]; last.Header().Rrtype != qtype {
		t.Errorf("answer ends with %v, want a %s record", last, dns.TypeToString[qtype])
	}
	for _, a := range engineAddrs {
		if strings.Contains(resp.String(), a) {
			t.Errorf("answer leaks the engine's address %s:\n%v", a, resp)
		}
	}
}

func TestResolveNegative(t *testing.T) {
	zone := newFakeZone(t, testZone+"\nempty.test. 60 IN TXT \"no address\"\n")
	next := forwarder(serve(t, zone))
	tests := []struct {
		target string
		qtype  uint16
		rcode  int
	}{
		{"gone.test.", dns.TypeA, dns.RcodeNameError},
		{"gone.test.", dns.TypeHTTPS, dns.RcodeNameError},
		{"empty.test.", dns.TypeAAAA, dns.RcodeSuccess},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.target, dns.TypeToString[tt.qtype]), func(t *testing.T) {
			q := newQuery("www.google.com.", tt.qtype)
			resp, err := Resolve(context.Background(), next, q, tt.target)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if resp.Rcode != tt.rcode {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode])
			}
			if len(resp.Answer) != 1 {
				t.Fatalf("answer = %v, want the CNAME alone", resp.Answer)
			}
			c, ok := resp.Answer[0].(*dns.CNAME)
			if !ok || c.Target != tt.target {
				t.Fatalf("answer = %v, want CNAME %s", resp.Answer[0], tt.target)
			}
			// The fake's SOA has TTL 900 and minimum 120: the CNAME may
			// not outlive the negative answer behind it.
			if c.Hdr.Ttl != 120 {
				t.Errorf("CNAME TTL = %d, want 120 (the SOA minimum)", c.Hdr.Ttl)
			}
			if len(resp.Ns) != 1 || resp.Ns[0].Header().Rrtype != dns.TypeSOA {
				t.Errorf("authority = %v, want the SOA for negative caching", resp.Ns)
			}
			if q.Trace.Decision != resolver.Rewritten || q.Trace.Rule != "safesearch → "+tt.target {
				t.Errorf("trace = %v %q", q.Trace.Decision, q.Trace.Rule)
			}
		})
	}
}

// TestResolvePassThrough checks that types describing the engine's zone
// rather than its web host go to next untouched.
func TestResolvePassThrough(t *testing.T) {
	zone := newFakeZone(t, testZone)
	next := forwarder(serve(t, zone))
	for _, qtype := range []uint16{dns.TypeMX, dns.TypeTXT, dns.TypeNS, dns.TypeSOA, dns.TypeCAA} {
		t.Run(dns.TypeToString[qtype], func(t *testing.T) {
			q := newQuery("google.com.", qtype)
			resp, err := Resolve(context.Background(), next, q, "forcesafesearch.google.com.")
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			want := dns.Question{Name: "google.com.", Qtype: qtype, Qclass: dns.ClassINET}
			if got := zone.last().Question[0]; got != want {
				t.Errorf("next was asked %v, want %v", got, want)
			}
			for _, rr := range resp.Answer {
				if rr.Header().Rrtype == dns.TypeCNAME {
					t.Errorf("pass-through answer has a CNAME: %v", rr)
				}
			}
			if qtype == dns.TypeMX && len(resp.Answer) != 1 {
				t.Errorf("MX answer = %v, want google.com's own MX", resp.Answer)
			}
			if q.Trace.Decision == resolver.Rewritten || q.Trace.Rule != "" {
				t.Errorf("trace = %v %q, want it untouched", q.Trace.Decision, q.Trace.Rule)
			}
		})
	}
}

// TestResolveOtherTypes checks that types Resolve does not pass through are
// rewritten too: ANY would otherwise leak the engine's addresses, and a
// CNAME query gets the CNAME alone without asking next.
func TestResolveOtherTypes(t *testing.T) {
	zone := newFakeZone(t, testZone)
	next := forwarder(serve(t, zone))

	q := newQuery("www.google.com.", dns.TypeCNAME)
	resp, err := Resolve(context.Background(), next, q, "forcesafesearch.google.com.")
	if err != nil {
		t.Fatalf("Resolve CNAME: %v", err)
	}
	if zone.count() != 0 {
		t.Errorf("next was asked %v for a CNAME query", zone.last())
	}
	if len(resp.Answer) != 1 || resp.Answer[0].(*dns.CNAME).Target != "forcesafesearch.google.com." || resp.Answer[0].Header().Ttl != maxTTL {
		t.Errorf("CNAME query answered %v", resp.Answer)
	}
	if q.Trace.Decision != resolver.Rewritten {
		t.Errorf("trace decision = %v", q.Trace.Decision)
	}

	q = newQuery("www.google.com.", dns.TypeSVCB)
	if _, err := Resolve(context.Background(), next, q, "forcesafesearch.google.com."); err != nil {
		t.Fatalf("Resolve SVCB: %v", err)
	}
	if got := zone.last().Question[0]; got.Name != "forcesafesearch.google.com." || got.Qtype != dns.TypeSVCB {
		t.Errorf("SVCB: next was asked %v", got)
	}
}

// TestResolveSubQuery checks what next is asked besides the question:
// recursion always, and the client's CD bit and EDNS settings.
func TestResolveSubQuery(t *testing.T) {
	zone := newFakeZone(t, testZone)
	next := forwarder(serve(t, zone))

	q := newQuery("www.google.com.", dns.TypeA)
	q.Msg.RecursionDesired = false
	q.Msg.CheckingDisabled = true
	q.Msg.SetEdns0(1232, true)
	if _, err := Resolve(context.Background(), next, q, "forcesafesearch.google.com."); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	asked := zone.last()
	if !asked.RecursionDesired || !asked.CheckingDisabled {
		t.Errorf("sub-query RD=%v CD=%v, want both set", asked.RecursionDesired, asked.CheckingDisabled)
	}
	if o := asked.IsEdns0(); o == nil || !o.Do() || o.UDPSize() != 1232 {
		t.Errorf("sub-query OPT = %v, want DO and size 1232", o)
	}
	if asked.Id == q.Msg.Id && q.Msg.Id != 0 {
		t.Errorf("sub-query reuses the client's ID %d", asked.Id)
	}

	q = newQuery("www.google.com.", dns.TypeA)
	if _, err := Resolve(context.Background(), next, q, "forcesafesearch.google.com."); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if zone.last().IsEdns0() != nil {
		t.Error("sub-query has EDNS the client did not ask for")
	}
}

func TestResolveErrors(t *testing.T) {
	boom := errors.New("upstreams down")
	tests := []struct {
		name string
		next resolver.Func
		is   error
	}{
		{"error", func(context.Context, *resolver.Query) (*dns.Msg, error) { return nil, boom }, boom},
		{"nil answer", func(context.Context, *resolver.Query) (*dns.Msg, error) { return nil, nil }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQuery("www.google.com.", dns.TypeA)
			resp, err := Resolve(context.Background(), tt.next, q, "forcesafesearch.google.com.")
			if err == nil || resp != nil {
				t.Fatalf("Resolve = %v, %v; want an error", resp, err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), "forcesafesearch.google.com.") {
				t.Errorf("error %q does not name the target", err)
			}
		})
	}
}

// TestResolveCopies checks that the answer shares no record with next's
// message, which may be a cached one.
func TestResolveCopies(t *testing.T) {
	shared, err := dns.NewRR("forcesafesearch.google.com. 3600 IN A 216.239.38.120")
	if err != nil {
		t.Fatal(err)
	}
	next := resolver.Func(func(_ context.Context, q *resolver.Query) (*dns.Msg, error) {
		m := new(dns.Msg)
		m.SetReply(q.Msg)
		m.Answer = []dns.RR{shared}
		return m, nil
	})
	resp, err := Resolve(context.Background(), next, newQuery("www.google.com.", dns.TypeA), "forcesafesearch.google.com.")
	if err != nil {
		t.Fatal(err)
	}
	resp.Answer[1].Header().Ttl = 1
	if shared.Header().Ttl != 3600 {
		t.Error("changing the answer changed next's record")
	}
}
