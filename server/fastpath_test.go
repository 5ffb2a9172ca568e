package server

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

// fastRig is a batched UDP server with the fast path in front of a
// counting chain, on a clock the test moves.
type fastRig struct {
	addr    string
	chain   *tableChain
	valid   atomic.Int64 // Trace.Valid the chain reports, ns
	version atomic.Uint64
	subject atomic.Value // string
	hit     atomic.Bool  // the chain reports a response-cache hit
	clk     *dnstest.Clock
	sent    int // queries asked
	mu      sync.Mutex
	obs     []resolver.Query
}

func newFastRig(t *testing.T) *fastRig {
	t.Helper()
	if !batchSupported {
		t.Skip("batched UDP needs Linux")
	}
	r := &fastRig{chain: newTableChain(t), clk: dnstest.NewClock(time.Date(2026, 11, 27, 20, 0, 0, 0, time.UTC))}
	r.subject.Store("kids")
	chain := resolver.Func(func(ctx context.Context, q *resolver.Query) (*dns.Msg, error) {
		q.Trace.Profile = "kids"
		q.Trace.Cache = resolver.CacheMiss
		q.Trace.Upstream = "udp://192.0.2.53:53"
		if r.hit.Load() {
			q.Trace.Cache, q.Trace.Upstream = resolver.CacheHit, ""
		}
		q.Trace.Valid = time.Duration(r.valid.Load())
		return r.chain.Resolve(ctx, q)
	})
	s := startTLS(t, Options{
		Listen: []string{"127.0.0.1:0"}, Resolver: chain, BatchUDP: true,
		Subject: func(netip.Addr) (string, uint64) { return r.subject.Load().(string), r.version.Load() },
		Now:     r.clk.Now,
		Observe: func(q *resolver.Query, rcode int, d time.Duration) {
			r.mu.Lock()
			r.obs = append(r.obs, *q)
			r.mu.Unlock()
		},
	}, nil)
	r.addr = s.Addrs()[0].String()
	return r
}

// ask sends m and returns the answer.
func (r *fastRig) ask(t *testing.T, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Timeout: clientDeadline, UDPSize: 4096}
	r.sent++
	resp, _, err := c.Exchange(m, r.addr)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Id != m.Id || resp.Question[0].Name != m.Question[0].Name {
		t.Fatalf("answer %d %q to query %d %q", resp.Id, resp.Question[0].Name, m.Id, m.Question[0].Name)
	}
	return resp
}

// asked returns how many queries reached the chain, once every query
// asked has been observed: an answer is observed after it is sent, and a
// handed-off one after it is kept, so the next query finds it.
func (r *fastRig) asked(t *testing.T) int {
	t.Helper()
	waitFor(t, "every query to be observed", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.obs) >= r.sent
	})
	return r.chain.count()
}

func ttls(m *dns.Msg) []uint32 {
	var out []uint32
	for _, rr := range append(m.Answer, m.Ns...) {
		out = append(out, rr.Header().Ttl)
	}
	return out
}

func TestFastPathReplays(t *testing.T) {
	r := newFastRig(t)
	// The first answer to a name is not kept (the doorkeeper), the second
	// is.
	first := r.ask(t, query("example.com.", dns.TypeA))
	r.ask(t, query("example.com.", dns.TypeA))
	if n := r.asked(t); n != 2 {
		t.Fatalf("chain asked %d times, want 2", n)
	}
	r.clk.Advance(5 * time.Second)
	m := query("ExAmPle.COM.", dns.TypeA)
	m.Id = 4321
	second := r.ask(t, m)
	if n := r.asked(t); n != 2 {
		t.Fatalf("a repeated query went to the chain (%d)", n)
	}
	if got, want := ttls(second), []uint32{295, 55}; !slices.Equal(got, want) {
		t.Errorf("replayed TTLs %v, want %v (first %v)", got, want, ttls(first))
	}
	if second.Question[0].Name != "ExAmPle.COM." || second.Id != 4321 {
		t.Errorf("replay not patched: id %d, question %q", second.Id, second.Question[0].Name)
	}
	// Observe saw the replay, as the asker's and as a cache hit from no
	// upstream.
	r.mu.Lock()
	last := r.obs[len(r.obs)-1]
	n := len(r.obs)
	r.mu.Unlock()
	if n != 3 || last.Client != netip.MustParseAddr("127.0.0.1") || last.Trace.Cache != resolver.CacheHit ||
		last.Trace.Upstream != "" || last.Trace.Profile != "kids" || last.Name() != "example.com." {
		t.Errorf("observed %d; last %+v %q", n, last.Trace, last.Name())
	}
	// At the first TTL's end the chain is asked again.
	r.clk.Advance(55 * time.Second)
	r.ask(t, query("example.com.", dns.TypeA))
	if n := r.asked(t); n != 3 {
		t.Errorf("expired answer replayed (chain asked %d times, want 3)", n)
	}
}

// TestFastPathSeen: an answer out of the response cache is of a name asked
// before, so the fast path keeps it at first sight; a fetched one waits
// for the second.
func TestFastPathSeen(t *testing.T) {
	r := newFastRig(t)
	r.hit.Store(true)
	for range 3 {
		r.ask(t, query("cached.example.", dns.TypeA))
		r.asked(t) // the answer is kept after it is sent
	}
	if n := r.asked(t); n != 1 {
		t.Errorf("a cache hit went to the chain %d times, want once", n)
	}
	r.hit.Store(false)
	for range 3 {
		r.ask(t, query("fetched.example.", dns.TypeA))
		r.asked(t)
	}
	if n := r.asked(t); n != 3 {
		t.Errorf("chain asked %d times in all, want 3 (1 + 2 for the fetched name)", n)
	}
}

func TestFastPathKeys(t *testing.T) {
	withEDNS := func(do bool, opts ...dns.EDNS0) *dns.Msg {
		m := query("example.com.", dns.TypeA)
		m.SetEdns0(1232, do)
		o := m.IsEdns0()
		o.Option = opts
		return m
	}
	cookie := &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}
	nsid := &dns.EDNS0_NSID{Code: dns.EDNS0NSID}
	tests := []struct {
		name       string
		first, now *dns.Msg
		change     func(r *fastRig)
		wantChain  int // times the chain is asked for the third query (after two of the first)
	}{
		{"same", query("example.com.", dns.TypeA), query("example.com.", dns.TypeA), nil, 0},
		{"EDNS vs none", query("example.com.", dns.TypeA), withEDNS(false), nil, 1},
		{"DO differs", withEDNS(false), withEDNS(true), nil, 1},
		{"cookie ignored", withEDNS(false), withEDNS(false, cookie), nil, 0},
		{"other option not fast", withEDNS(false, nsid), withEDNS(false, nsid), nil, 1},
		{"type differs", query("example.com.", dns.TypeA), query("example.com.", dns.TypeAAAA), nil, 1},
		{"NXDOMAIN kept", query("nx.test.", dns.TypeA), query("nx.test.", dns.TypeA), nil, 0},
		{"policy version changed", query("example.com.", dns.TypeA), query("example.com.", dns.TypeA),
			func(r *fastRig) { r.version.Add(1) }, 1},
		{"subject changed", query("example.com.", dns.TypeA), query("example.com.", dns.TypeA),
			func(r *fastRig) { r.subject.Store("adults") }, 1},
		{"no subject", query("example.com.", dns.TypeA), query("example.com.", dns.TypeA),
			func(r *fastRig) { r.subject.Store("") }, 1},
		{"decision ends", query("example.com.", dns.TypeA), query("example.com.", dns.TypeA),
			func(r *fastRig) { r.clk.Advance(10 * time.Second) }, 1},
		{"ANY not fast", query("example.com.", dns.TypeANY), query("example.com.", dns.TypeANY), nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newFastRig(t)
			r.valid.Store(int64(10 * time.Second))
			r.ask(t, tc.first)
			r.ask(t, tc.first)
			before := r.asked(t)
			if tc.change != nil {
				tc.change(r)
			}
			r.ask(t, tc.now)
			if n := r.asked(t) - before; n != tc.wantChain {
				t.Errorf("chain asked %d times, want %d", n, tc.wantChain)
			}
		})
	}
}

// TestFastPathAgrees checks that a replay is the very answer the chain's
// path gave, byte for byte, for each packet of TestUDPModesAgree.
func TestFastPathAgrees(t *testing.T) {
	if !batchSupported {
		t.Skip("batched UDP needs Linux")
	}
	now := time.Now()
	s := startTLS(t, Options{Listen: []string{"127.0.0.1:0"}, Resolver: bigChain(t), BatchUDP: true,
		Subject: func(netip.Addr) (string, uint64) { return "all", 1 },
		Now:     func() time.Time { return now }}, nil)
	addr := s.Addrs()[0].String()
	for name, pkt := range udpPackets(t) {
		t.Run(name, func(t *testing.T) {
			first, _ := exchangeRaw(t, addr, pkt, 0xbeef)
			exchangeRaw(t, addr, pkt, 0xbeef)
			s.idle(t) // the second answer is kept after it is sent
			again, _ := exchangeRaw(t, addr, pkt, 0xbeef)
			if !bytes.Equal(first, again) {
				t.Errorf("answers differ\nfirst: %x\nagain: %x", first, again)
			}
		})
	}
}

// replayAsker starts a batched UDP server with the fast path and returns
// a function that asks it one query (prebuilt bytes, one read buffer: the
// client allocates nothing) and the count of answers observed. The query
// has been asked twice already, so its answer is kept and each ask is a
// replay.
func replayAsker(tb testing.TB) (ask func(), observed *atomic.Int64) {
	tb.Helper()
	if !batchSupported {
		tb.Skip("batched UDP needs Linux")
	}
	observed = new(atomic.Int64)
	s := startTLS(tb, Options{Listen: []string{"127.0.0.1:0"}, Resolver: newTableChain(tb), BatchUDP: true,
		Subject: func(netip.Addr) (string, uint64) { return "kids", 1 },
		Observe: func(q *resolver.Query, rcode int, d time.Duration) { observed.Add(1) }}, nil)
	c, err := net.Dial("udp", s.Addrs()[0].String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	m := query("example.com.", dns.TypeA)
	m.SetEdns0(1232, false)
	w, err := m.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	buf := make([]byte, 2048)
	ask = func() {
		if _, err := c.Write(w); err != nil {
			tb.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(clientDeadline))
		if _, err := c.Read(buf); err != nil {
			tb.Fatal(err)
		}
	}
	ask()
	ask()
	s.idle(tb) // the second answer is kept after it is sent
	return ask, observed
}

// BenchmarkFastPathUDP is one replayed answer over loopback, client
// included: the server's share of the allocations must be none.
func BenchmarkFastPathUDP(b *testing.B) {
	ask, _ := replayAsker(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ask()
	}
}

// TestFastPathWildcard serves a wildcard address and asks through two
// loopback addresses (and ::1 where there is one) from connected sockets,
// which take only datagrams from the address they asked: every answer,
// handed off or replayed, must leave from the address its query came to.
func TestFastPathWildcard(t *testing.T) {
	if !batchSupported {
		t.Skip("batched UDP needs Linux")
	}
	cases := []struct{ listen, ask string }{
		{"0.0.0.0:0", "127.0.0.1"},
		{"0.0.0.0:0", "127.0.0.2"},
	}
	if c, err := net.ListenPacket("udp6", "[::1]:0"); err == nil {
		c.Close()
		cases = append(cases, struct{ listen, ask string }{"[::]:0", "::1"}, struct{ listen, ask string }{"[::]:0", "127.0.0.3"})
	}
	for _, tc := range cases {
		t.Run(tc.listen+" via "+tc.ask, func(t *testing.T) {
			s := startTLS(t, Options{Listen: []string{tc.listen}, Resolver: newTableChain(t), BatchUDP: true,
				Subject: func(netip.Addr) (string, uint64) { return "all", 1 }}, nil)
			_, port, _ := net.SplitHostPort(s.Addrs()[0].String())
			addr := net.JoinHostPort(tc.ask, port)
			c := &dns.Client{Timeout: clientDeadline}
			for i := range 4 {
				r, _, err := c.Exchange(query("example.com.", dns.TypeA), addr)
				if err != nil {
					t.Fatalf("query %d to %s: %v", i+1, addr, err)
				}
				checkA(t, r, "192.0.2.1", "192.0.2.2")
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

// TestFastPathAllocs checks that a replayed answer allocates nothing, on
// the whole server path (socket to socket, Observe included): the client
// sends prebuilt bytes and reads into one buffer, so every allocation the
// process makes is the server's.
func TestFastPathAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	ask, observed := replayAsker(t)
	before := observed.Load()
	if n := testing.AllocsPerRun(500, ask); n > 0.05 {
		t.Errorf("%.2f allocations per replayed answer, want 0", n)
	}
	// Replays are observed after their answers are sent.
	waitFor(t, "500 replays to be observed", func() bool { return observed.Load()-before >= 500 })
}
