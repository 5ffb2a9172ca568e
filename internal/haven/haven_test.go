package haven_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

func ede(m *dns.Msg) *dns.EDNS0_EDE {
	if o := m.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			if e, ok := opt.(*dns.EDNS0_EDE); ok {
				return e
			}
		}
	}
	return nil
}

// zone is what the fake upstreams serve.
var zone = []string{
	"example.com. 300 IN A 192.0.2.1",
	"example.com. 300 IN AAAA 2001:db8::1",
	"khanacademy.org. 300 IN A 192.0.2.2",
	"router.home.arpa. 60 IN A 192.168.1.1",
	"good.test. 300 IN A 192.0.2.3",
}

func writeList(tb testing.TB, body string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "list.txt")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestAllowedAnsweredFromUpstream(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	h := start(t, fmt.Sprintf("upstreams: [\"udp://%s\"]\nlists: {}\nblock: []\n", up.Addr()), haven.Options{})
	for _, netw := range []string{"udp", "tcp"} {
		t.Run(netw, func(t *testing.T) {
			r := ask(t, netw, h.Addr(), "example.com.", dns.TypeA, true)
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
				t.Fatalf("answer: %v", r)
			}
			if a, ok := r.Answer[0].(*dns.A); !ok || a.A.String() != "192.0.2.1" {
				t.Fatalf("answer %v, want 192.0.2.1", r.Answer[0])
			}
			if !r.RecursionAvailable || !r.Response {
				t.Errorf("RA/QR not set: %v", r.MsgHdr)
			}
			if r.IsEdns0() == nil {
				t.Errorf("EDNS query answered without OPT")
			}
		})
	}
	// Unknown names come back NXDOMAIN from upstream, without the filter's EDE.
	r := ask(t, "udp", h.Addr(), "nothing.example.com.", dns.TypeA, true)
	if r.Rcode != dns.RcodeNameError || ede(r) != nil {
		t.Fatalf("upstream NXDOMAIN: rcode %s, ede %v", dns.RcodeToString[r.Rcode], ede(r))
	}
}

func TestQuestionCaseAndIDPreserved(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	h := start(t, fmt.Sprintf("upstreams: [\"udp://%s\"]\nlists: {}\nblock: []\n", up.Addr()), haven.Options{})
	r := ask(t, "udp", h.Addr(), "ExAmPlE.cOm.", dns.TypeA, false)
	if r.Question[0].Name != "ExAmPlE.cOm." {
		t.Errorf("question %q, want the case as asked", r.Question[0].Name)
	}
	if len(r.Answer) != 1 {
		t.Fatalf("mixed-case name not answered: %v", r)
	}
	if r.IsEdns0() != nil {
		t.Errorf("query without EDNS answered with OPT")
	}
}

func TestBlockModes(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	adult := writeList(t, "0.0.0.0 adult.test\n")
	gambling := writeList(t, "||casino.test^\n")
	tests := []struct {
		answer string
		qtype  uint16
		rcode  int
		want   string // the answer record's data, "" for none
		soa    bool
	}{
		{"nxdomain", dns.TypeA, dns.RcodeNameError, "", true},
		{"null", dns.TypeA, dns.RcodeSuccess, "0.0.0.0", false},
		{"null", dns.TypeAAAA, dns.RcodeSuccess, "::", false},
		{"null", dns.TypeMX, dns.RcodeSuccess, "", true},
		{"refused", dns.TypeA, dns.RcodeRefused, "", false},
		{"192.0.2.10", dns.TypeA, dns.RcodeSuccess, "192.0.2.10", false},
		{"192.0.2.10", dns.TypeAAAA, dns.RcodeSuccess, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.answer+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			h := start(t, fmt.Sprintf(`upstreams: ["udp://%s"]
answer: %q
lists:
  adult: [%q]
  gambling: [%q]
block: [adult, gambling]
`, up.Addr(), tc.answer, adult, gambling), haven.Options{})
			for name, category := range map[string]string{"adult.test.": "adult", "www.casino.test.": "gambling"} {
				before := up.Count()
				r := ask(t, "udp", h.Addr(), name, tc.qtype, true)
				if r.Rcode != tc.rcode {
					t.Fatalf("%s: rcode %s, want %s", name, dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
				}
				var got string
				if len(r.Answer) > 0 {
					switch rr := r.Answer[0].(type) {
					case *dns.A:
						got = rr.A.String()
					case *dns.AAAA:
						got = rr.AAAA.String()
					}
				}
				if got != tc.want {
					t.Errorf("%s: answer %q, want %q", name, got, tc.want)
				}
				if hasSOA := len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == dns.TypeSOA; hasSOA != tc.soa {
					t.Errorf("%s: SOA in authority %v, want %v", name, hasSOA, tc.soa)
				}
				e := ede(r)
				if e == nil || e.InfoCode != dns.ExtendedErrorCodeFiltered || !strings.Contains(e.ExtraText, category) {
					t.Errorf("%s: EDE %v, want code 17 naming %q", name, e, category)
				}
				if up.Count() != before {
					t.Errorf("%s: blocked query reached upstream", name)
				}
			}
		})
	}
}

func TestOnlyBlockedCategoriesBlock(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(append(zone, "social.test. 300 IN A 192.0.2.9")...))
	h := start(t, fmt.Sprintf(`upstreams: ["udp://%s"]
lists:
  adult: [{inline: ["adult.test"]}]
  social: [{inline: ["social.test"]}]
allow: [khanacademy.org]
deny: [example.com]
block: [adult]
`, up.Addr()), haven.Options{})
	tests := []struct {
		name  string
		rcode int
	}{
		{"adult.test.", dns.RcodeNameError},
		{"sub.adult.test.", dns.RcodeNameError},
		{"social.test.", dns.RcodeSuccess}, // listed, but its category is not blocked
		{"example.com.", dns.RcodeNameError},
		{"khanacademy.org.", dns.RcodeSuccess},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := ask(t, "udp", h.Addr(), tc.name, dns.TypeA, true); r.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
			}
		})
	}
}

func TestCacheHitAndCountdown(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	clk := newClock()
	h := start(t, fmt.Sprintf("upstreams: [\"udp://%s\"]\nlists: {}\nblock: []\n", up.Addr()), haven.Options{Now: clk.Now})
	first := ask(t, "udp", h.Addr(), "example.com.", dns.TypeA, false)
	n := up.Count()
	clk.Advance(100 * time.Second)
	second := ask(t, "tcp", h.Addr(), "example.com.", dns.TypeA, false)
	if up.Count() != n {
		t.Fatalf("cached answer went upstream: %d queries, want %d", up.Count(), n)
	}
	t1, t2 := first.Answer[0].Header().Ttl, second.Answer[0].Header().Ttl
	if t1 != 300 || t2 != 200 {
		t.Errorf("TTL %d then %d after 100s, want 300 then 200", t1, t2)
	}
	// Another type is another entry.
	ask(t, "udp", h.Addr(), "example.com.", dns.TypeAAAA, false)
	if up.Count() != n+1 {
		t.Errorf("AAAA shared the A entry")
	}
	clk.Advance(201 * time.Second)
	ask(t, "udp", h.Addr(), "example.com.", dns.TypeA, false)
	if up.Count() != n+2 {
		t.Errorf("expired entry served without asking upstream")
	}
}

func TestTruncationAndTCPRetry(t *testing.T) {
	var big []string
	for i := 0; i < 60; i++ {
		big = append(big, fmt.Sprintf("big.test. 300 IN TXT \"record number %02d with some padding to make it long enough\"", i))
	}
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(big...))
	h := start(t, fmt.Sprintf("upstreams: [\"tcp://%s\"]\nlists: {}\nblock: []\n", up.Addr()), haven.Options{})
	udp := ask(t, "udp", h.Addr(), "big.test.", dns.TypeTXT, false)
	if !udp.Truncated {
		t.Fatalf("4 KB answer over UDP to a 512-byte client not truncated (%d records)", len(udp.Answer))
	}
	udp.Compress = true
	if size := udp.Len(); size > 512 {
		t.Errorf("truncated answer is %d bytes, over 512", size)
	}
	// miekg/dns's client does not retry by itself; a stub would, over TCP.
	tcp := ask(t, "tcp", h.Addr(), "big.test.", dns.TypeTXT, false)
	if tcp.Truncated || len(tcp.Answer) != 60 {
		t.Errorf("TCP answer: TC=%v, %d records, want 60", tcp.Truncated, len(tcp.Answer))
	}
	// A client that says it takes 4096 bytes still gets at most Haven's 1232.
	m := new(dns.Msg)
	m.SetQuestion("big.test.", dns.TypeTXT)
	m.SetEdns0(4096, false)
	r, _, err := (&dns.Client{Net: "udp", UDPSize: 4096}).Exchange(m, h.Addr())
	if err != nil {
		t.Fatal(err)
	}
	r.Compress = true // Len measures the wire size only with compression on
	if !r.Truncated || r.Len() > 1232 {
		t.Errorf("EDNS 4096 client: TC=%v, %d bytes; want truncated to at most 1232", r.Truncated, r.Len())
	}
	if o := r.IsEdns0(); o == nil || o.UDPSize() != 1232 {
		t.Errorf("advertised UDP size %v, want 1232", o)
	}
}

func TestFailoverAndServfail(t *testing.T) {
	dead := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	dead.Close()
	live := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	h := start(t, fmt.Sprintf("upstreams: [\"udp://%s\", \"udp://%s\"]\nupstream: {timeout: 1s}\nlists: {}\nblock: []\n", dead.Addr(), live.Addr()), haven.Options{})
	r := ask(t, "udp", h.Addr(), "example.com.", dns.TypeA, false)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("failover answer: %v", r)
	}
	live.Close()
	begin := time.Now()
	r = ask(t, "udp", h.Addr(), "good.test.", dns.TypeA, false)
	if r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("all upstreams down: rcode %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	// The bound is generous (the client's own timeout is 5s): the point is
	// an answer, not silence.
	if waited := time.Since(begin); waited > 4*time.Second {
		t.Errorf("SERVFAIL took %v", waited)
	}
}

func TestServeStale(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	clk := newClock()
	h := start(t, fmt.Sprintf("upstreams: [\"udp://%s\"]\nupstream: {timeout: 1s}\ncache: {serve_stale: 1h}\nlists: {}\nblock: []\n", up.Addr()), haven.Options{Now: clk.Now})
	ask(t, "udp", h.Addr(), "example.com.", dns.TypeA, true)
	up.Close()
	clk.Advance(10 * time.Minute) // expired (TTL 300), within serve_stale
	r := ask(t, "udp", h.Addr(), "example.com.", dns.TypeA, true)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("stale answer not served: %v", r)
	}
	if ttl := r.Answer[0].Header().Ttl; ttl != 30 {
		t.Errorf("stale TTL %d, want 30", ttl)
	}
	if e := ede(r); e == nil || e.InfoCode != dns.ExtendedErrorCodeStaleAnswer {
		t.Errorf("stale answer EDE %v, want code 3", e)
	}
	clk.Advance(2 * time.Hour)
	if r := ask(t, "udp", h.Addr(), "example.com.", dns.TypeA, true); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("past serve_stale: rcode %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
}

func TestConditionalForwarding(t *testing.T) {
	public := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	router := dnstest.NewUpstream(t, dnstest.ZoneHandler("printer.home.arpa. 60 IN A 192.168.1.50"))
	h := start(t, fmt.Sprintf("upstreams: [\"udp://%s\"]\nconditional: {home.arpa: \"udp://%s\"}\nlists: {}\nblock: []\n", public.Addr(), router.Addr()), haven.Options{})
	r := ask(t, "udp", h.Addr(), "printer.home.arpa.", dns.TypeA, false)
	if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.168.1.50" {
		t.Fatalf("home.arpa name not answered by the router: %v", r)
	}
	if router.Count() != 1 || public.Count() != 0 {
		t.Errorf("router got %d, public got %d queries; want 1, 0", router.Count(), public.Count())
	}
	ask(t, "udp", h.Addr(), "example.com.", dns.TypeA, false)
	if router.Count() != 1 || public.Count() != 1 {
		t.Errorf("public name: router %d, public %d; want 1, 1", router.Count(), public.Count())
	}
}

func TestEDNS(t *testing.T) {
	var mu sync.Mutex
	var gotDO bool
	zh := dnstest.ZoneHandler(zone...)
	up := dnstest.NewUpstream(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		mu.Lock()
		gotDO = r.IsEdns0() != nil && r.IsEdns0().Do()
		mu.Unlock()
		zh.ServeDNS(w, r)
	}))
	h := start(t, fmt.Sprintf("upstreams: [\"udp://%s\"]\nlists: {}\nblock: []\n", up.Addr()), haven.Options{})

	m := new(dns.Msg)
	m.SetQuestion("example.com.", dns.TypeA)
	m.SetEdns0(1232, true)
	r, _, err := new(dns.Client).Exchange(m, h.Addr())
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if !gotDO {
		t.Errorf("DO bit not passed upstream")
	}
	mu.Unlock()
	if o := r.IsEdns0(); o == nil || !o.Do() {
		t.Errorf("DO bit not echoed: %v", o)
	}

	m = new(dns.Msg)
	m.SetQuestion("example.com.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().SetVersion(1)
	r, _, err = new(dns.Client).Exchange(m, h.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeBadVers || len(r.Answer) != 0 {
		t.Errorf("EDNS version 1: rcode %s, %d answers; want BADVERS, none", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	if o := r.IsEdns0(); o == nil || o.Version() != 0 {
		t.Errorf("BADVERS reply OPT %v, want version 0", o)
	}
}
