package plainfwd

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/miekg/dns"
)

var zone = []string{
	"example.com. 300 IN A 192.0.2.1",
	"short.example.com. 10 IN A 192.0.2.2",
	"notads.example.net. 300 IN A 192.0.2.3",
	"example.net. 300 IN SOA ns.example.net. host.example.net. 1 7200 3600 1209600 30",
}

// start serves a Forwarder for up on loopback, on clk when given.
func start(tb testing.TB, up string, clk *dnstest.Clock, opt Options) string {
	tb.Helper()
	opt.Upstream = up
	if clk != nil {
		opt.Now = clk.Now
	}
	if opt.Timeout == 0 {
		opt.Timeout = 500 * time.Millisecond
	}
	f, err := New(opt)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := Listen("127.0.0.1:0", f)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	return s.Addr()
}

func firstA(m *dns.Msg) string {
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	return ""
}

func TestForwardCacheBlock(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	clk := dnstest.NewClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	addr := start(t, up.Addr(), clk, Options{Block: []string{"ads.example.net", "Tracker.Example.ORG."}})

	for _, tt := range []struct {
		name, net, qname string
		rcode            int
		a                string
		upstream         int64 // queries the upstream has seen after this one
	}{
		{"forwarded", "udp", "example.com", dns.RcodeSuccess, "192.0.2.1", 1},
		{"cached", "udp", "example.com", dns.RcodeSuccess, "192.0.2.1", 1},
		{"cached, other case", "udp", "ExAmple.COM", dns.RcodeSuccess, "192.0.2.1", 1},
		{"cached over tcp", "tcp", "example.com", dns.RcodeSuccess, "192.0.2.1", 1},
		{"blocked", "udp", "ads.example.net", dns.RcodeNameError, "", 1},
		{"blocked subtree", "udp", "x.y.ads.example.net", dns.RcodeNameError, "", 1},
		{"blocked, listed in upper case", "tcp", "tracker.example.org", dns.RcodeNameError, "", 1},
		{"not a parent", "udp", "notads.example.net", dns.RcodeSuccess, "192.0.2.3", 2},
		{"nxdomain forwarded", "udp", "nope.example.net", dns.RcodeNameError, "", 3},
		{"nxdomain cached", "udp", "nope.example.net", dns.RcodeNameError, "", 3},
		{"short ttl forwarded", "udp", "short.example.com", dns.RcodeSuccess, "192.0.2.2", 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := dnstest.Query(tt.qname, dns.TypeA)
			r := dnstest.Exchange(t, tt.net, addr, q)
			if r.Id != q.Id || r.Rcode != tt.rcode || firstA(r) != tt.a {
				t.Errorf("id %d rcode %s A %q; want id %d, %s, %q", r.Id, dns.RcodeToString[r.Rcode], firstA(r), q.Id, dns.RcodeToString[tt.rcode], tt.a)
			}
			if len(r.Question) != 1 || !strings.EqualFold(r.Question[0].Name, dns.Fqdn(tt.qname)) {
				t.Errorf("question %v", r.Question)
			}
			if got := up.Count(); got != tt.upstream {
				t.Errorf("upstream saw %d queries, want %d", got, tt.upstream)
			}
		})
	}

	// Expiry: each answer goes upstream again once its TTL has passed
	// (short.example.com 10 s, the NXDOMAIN the SOA minimum's 30 s,
	// example.com 300 s), and not before.
	for _, step := range []struct {
		advance time.Duration
		qname   string
		fetched bool
	}{
		{9 * time.Second, "short.example.com", false},
		{time.Second, "short.example.com", true},
		{0, "example.com", false},
		{19 * time.Second, "nope.example.net", false},
		{time.Second, "nope.example.net", true},
		{269 * time.Second, "example.com", false},
		{time.Second, "example.com", true},
		{0, "example.com", false},
	} {
		clk.Advance(step.advance)
		before := up.Count()
		dnstest.Exchange(t, "udp", addr, dnstest.Query(step.qname, dns.TypeA))
		if fetched := up.Count() > before; fetched != step.fetched {
			t.Errorf("at %v, %s: went upstream %v, want %v", clk.Now().Format(time.TimeOnly), step.qname, fetched, step.fetched)
		}
	}
}

func TestUpstreamFailures(t *testing.T) {
	for _, tt := range []struct {
		name    string
		h       dns.Handler
		rcode   int
		fetches int64 // upstream queries for two client queries: 2 = not cached
	}{
		{"servfail passed on, not cached", dnstest.RcodeHandler(dns.RcodeServerFailure), dns.RcodeServerFailure, 2},
		{"refused passed on, not cached", dnstest.RcodeHandler(dns.RcodeRefused), dns.RcodeRefused, 2},
		{"no answer", dnstest.DropHandler(), dns.RcodeServerFailure, 2},
		{"wrong id ignored", dnstest.WrongIDHandler(dnstest.ZoneHandler(zone...)), dns.RcodeServerFailure, 2},
		{"wrong question refused", dnstest.WrongQuestionHandler(dnstest.ZoneHandler(zone...)), dns.RcodeServerFailure, 2},
		{"nodata without soa not cached", dnstest.ModifyHandler(dnstest.ZoneHandler(zone...), func(m *dns.Msg) { m.Ns = nil }), dns.RcodeSuccess, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := dnstest.NewUpstream(t, tt.h)
			addr := start(t, up.Addr(), nil, Options{Timeout: 200 * time.Millisecond})
			for range 2 {
				r := dnstest.Exchange(t, "udp", addr, dnstest.Query("example.com", dns.TypeAAAA))
				if r.Rcode != tt.rcode {
					t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
				}
			}
			if got := up.Count(); got != tt.fetches {
				t.Errorf("upstream saw %d queries, want %d", got, tt.fetches)
			}
		})
	}
}

// TestSocketReuse checks that sequential misses share one upstream socket,
// that concurrent ones each get their own, and that a reply with another
// ID arriving first (a late one, say) is skipped rather than taken.
func TestSocketReuse(t *testing.T) {
	var mu sync.Mutex
	stale := false
	raw := dnstest.NewRawUDP(t, func(d dnstest.Datagram) [][]byte {
		q := new(dns.Msg)
		if q.Unpack(d.Data) != nil {
			return nil
		}
		m := new(dns.Msg)
		m.SetReply(q)
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: []byte{192, 0, 2, 9}}}
		good, _ := m.Pack()
		mu.Lock()
		defer mu.Unlock()
		if !stale {
			return [][]byte{good}
		}
		m.Id++
		m.Answer[0].(*dns.A).A = []byte{192, 0, 2, 66}
		bad, _ := m.Pack()
		return [][]byte{bad, good}
	})
	f, err := New(Options{Upstream: raw.Addr(), Sockets: 4})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Listen("127.0.0.1:0", f)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())

	ports := func() map[uint16]bool {
		p := map[uint16]bool{}
		for _, d := range raw.Received() {
			p[d.From.Port()] = true
		}
		return p
	}
	for i := range 10 {
		r := dnstest.Exchange(t, "udp", s.Addr(), dnstest.Query("seq"+string(rune('a'+i))+".example", dns.TypeA))
		if firstA(r) != "192.0.2.9" {
			t.Fatalf("answer %v", r.Answer)
		}
	}
	if p := ports(); len(p) != 1 || f.pool.idleLen() != 1 {
		t.Errorf("10 sequential misses used %d source ports, %d idle sockets; want 1 and 1", len(p), f.pool.idleLen())
	}

	mu.Lock()
	stale = true
	mu.Unlock()
	r := dnstest.Exchange(t, "udp", s.Addr(), dnstest.Query("stale.example", dns.TypeA))
	if firstA(r) != "192.0.2.9" {
		t.Errorf("took the reply with the wrong ID: %v", r.Answer)
	}

	// Concurrent misses: more sockets, but at most Sockets kept idle.
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			q := dnstest.Query("par"+string(rune('a'+i))+".example", dns.TypeA)
			if _, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(q, s.Addr()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := f.pool.idleLen(); n < 1 || n > 4 {
		t.Errorf("%d idle sockets after concurrent misses, want 1 to 4", n)
	}
	if got := len(raw.Received()); got != 10+1+32 {
		t.Errorf("upstream received %d queries, want %d", got, 43)
	}
}

func TestTruncatedOverTCP(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.BigHandler(100))
	addr := start(t, up.Addr(), nil, Options{})
	r := dnstest.Exchange(t, "udp", addr, dnstest.Query("big.example", dns.TypeA))
	if !r.Truncated {
		t.Errorf("udp: %d records, TC %v: want the truncated answer", len(r.Answer), r.Truncated)
	}
	r = dnstest.Exchange(t, "tcp", addr, dnstest.Query("big.example", dns.TypeA))
	if r.Truncated || len(r.Answer) != 100 {
		t.Errorf("tcp: %d records, TC %v: want all 100", len(r.Answer), r.Truncated)
	}
	// The truncated answer was not cached, the full one was.
	before := up.Count()
	dnstest.Exchange(t, "tcp", addr, dnstest.Query("big.example", dns.TypeA))
	if up.Count() != before {
		t.Error("the full answer was not cached")
	}
}

func TestMalformedQueries(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	addr := start(t, up.Addr(), nil, Options{})
	two := dnstest.Query("example.com", dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	notify := dnstest.Query("example.com", dns.TypeSOA)
	notify.Opcode = dns.OpcodeNotify
	for _, tt := range []struct {
		name  string
		q     *dns.Msg
		rcode int
	}{
		{"two questions", two, dns.RcodeFormatError},
		{"notify", notify, dns.RcodeNotImplemented},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := dnstest.Exchange(t, "udp", addr, tt.q)
			if r.Rcode != tt.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
			}
		})
	}
	if up.Count() != 0 {
		t.Errorf("upstream saw %d queries, want none", up.Count())
	}
}

func TestCacheEvicts(t *testing.T) {
	c := newCache(3)
	exp := time.Unix(100, 0)
	for i := range 10 {
		c.put(key{name: string(rune('a' + i)), qtype: 1}, []byte{byte(i)}, exp)
	}
	if c.len() != 3 {
		t.Errorf("%d entries, want 3", c.len())
	}
	c.put(key{name: "j", qtype: 1}, []byte{42}, exp) // already there: nothing evicted
	if w := c.get(key{name: "j", qtype: 1}, time.Unix(99, 0)); len(w) != 1 || w[0] != 42 || c.len() != 3 {
		t.Errorf("get j = %v with %d entries", w, c.len())
	}
	if w := c.get(key{name: "j", qtype: 1}, exp); w != nil {
		t.Error("served at its expiry time")
	}
}

func TestNewRejects(t *testing.T) {
	for _, opt := range []Options{
		{Upstream: "127.0.0.1"},
		{Upstream: "127.0.0.1:53", Block: []string{"."}},
	} {
		if _, err := New(opt); err == nil {
			t.Errorf("New(%+v) accepted", opt)
		}
	}
}
