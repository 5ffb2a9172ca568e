package cache

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

func TestHitDoesNotCallNext(t *testing.T) {
	c, u, _ := newCache(Options{}, aRecord(300))

	q := query("example.org.", dns.TypeA)
	ask(t, c, q)
	if q.Trace.Cache != resolver.CacheMiss || q.Trace.Upstream != "test" {
		t.Errorf("first query: trace %v/%q, want miss/test", q.Trace.Cache, q.Trace.Upstream)
	}
	for i := range 3 {
		q := query("example.org.", dns.TypeA)
		m := ask(t, c, q)
		if q.Trace.Cache != resolver.CacheHit {
			t.Errorf("query %d: trace %v, want hit", i+2, q.Trace.Cache)
		}
		if len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
			t.Errorf("query %d: answer %v", i+2, m.Answer)
		}
	}
	if n := u.calls.Load(); n != 1 {
		t.Errorf("next called %d times, want 1", n)
	}
	want := Stats{Hits: 3, Misses: 1, Entries: 1}
	if got := c.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

func TestHitReturnsOwnMessage(t *testing.T) {
	c, _, _ := newCache(Options{}, aRecord(300))
	ask(t, c, query("example.org.", dns.TypeA))
	m := ask(t, c, query("example.org.", dns.TypeA))
	m.Answer[0].Header().Ttl = 7 // as a server rewriting its reply might
	m.Answer = nil
	if m := ask(t, c, query("example.org.", dns.TypeA)); len(m.Answer) != 1 || m.Answer[0].Header().Ttl != 300 {
		t.Errorf("changing one hit changed the next: %v", m.Answer)
	}
}

func TestTTLCountsDown(t *testing.T) {
	answer := replyWith(dns.RcodeSuccess,
		rrs(t, "example.org. 300 IN A 192.0.2.1"),
		rrs(t, "example.org. 600 IN NS ns.example.org."),
		rrs(t, "ns.example.org. 100 IN A 192.0.2.53"))
	c, u, clk := newCache(Options{}, answer)
	start := clk.Now()
	if got := ttls(ask(t, c, query("example.org.", dns.TypeA))); !slices.Equal(got, []uint32{300, 600, 100}) {
		t.Fatalf("miss TTLs = %v, want [300 600 100]", got)
	}
	steps := []struct {
		at   time.Duration // since stored
		want []uint32      // nil: expect a miss
	}{
		{at: 0, want: []uint32{300, 600, 100}},
		{at: 999 * time.Millisecond, want: []uint32{300, 600, 100}},
		{at: time.Second, want: []uint32{299, 599, 99}},
		{at: 99 * time.Second, want: []uint32{201, 501, 1}},
		{at: 150 * time.Second, want: []uint32{150, 450, 1}}, // additional floored at 1
		{at: 299*time.Second + 999*time.Millisecond, want: []uint32{1, 301, 1}},
		{at: 300 * time.Second},
	}
	for _, s := range steps {
		clk.Advance(start.Add(s.at).Sub(clk.Now()))
		calls := u.calls.Load()
		q := query("example.org.", dns.TypeA)
		got := ttls(ask(t, c, q))
		if s.want == nil {
			if u.calls.Load() != calls+1 || q.Trace.Cache != resolver.CacheMiss {
				t.Errorf("at %v: not refetched (trace %v)", s.at, q.Trace.Cache)
			}
			if !slices.Equal(got, []uint32{300, 600, 100}) {
				t.Errorf("at %v: refetched TTLs %v, want fresh ones", s.at, got)
			}
			continue
		}
		if u.calls.Load() != calls || q.Trace.Cache != resolver.CacheHit {
			t.Errorf("at %v: not a hit (trace %v)", s.at, q.Trace.Cache)
		}
		if !slices.Equal(got, s.want) {
			t.Errorf("at %v: TTLs %v, want %v", s.at, got, s.want)
		}
	}
}

func TestTTLClamps(t *testing.T) {
	tests := []struct {
		name     string
		min, max time.Duration
		ttl      uint32
		want     uint32 // served and kept TTL; 0: not cached
	}{
		{name: "unbounded", ttl: 300, want: 300},
		{name: "min raises", min: time.Minute, ttl: 10, want: 60},
		{name: "max lowers", max: 100 * time.Second, ttl: 3600, want: 100},
		{name: "within bounds", min: time.Minute, max: time.Hour, ttl: 300, want: 300},
		{name: "max wins over min", min: 200 * time.Second, max: 100 * time.Second, ttl: 10, want: 100},
		{name: "zero not cached", ttl: 0, want: 0},
		{name: "zero raised by min", min: 5 * time.Second, ttl: 0, want: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, u, clk := newCache(Options{MinTTL: tt.min, MaxTTL: tt.max}, aRecord(tt.ttl))
			m := ask(t, c, query("example.org.", dns.TypeA))
			if tt.want == 0 {
				ask(t, c, query("example.org.", dns.TypeA))
				if n := u.calls.Load(); n != 2 || c.Len() != 0 {
					t.Errorf("cached: next called %d times, %d entries", n, c.Len())
				}
				return
			}
			if got := m.Answer[0].Header().Ttl; got != tt.want {
				t.Errorf("miss TTL = %d, want %d", got, tt.want)
			}
			if got := ask(t, c, query("example.org.", dns.TypeA)).Answer[0].Header().Ttl; got != tt.want {
				t.Errorf("hit TTL = %d, want %d", got, tt.want)
			}
			clk.Advance(time.Duration(tt.want)*time.Second - time.Millisecond)
			if got := ask(t, c, query("example.org.", dns.TypeA)).Answer[0].Header().Ttl; got != 1 || u.calls.Load() != 1 {
				t.Errorf("just before expiry: TTL %d, next called %d times; want 1, 1", got, u.calls.Load())
			}
			clk.Advance(time.Millisecond)
			ask(t, c, query("example.org.", dns.TypeA))
			if n := u.calls.Load(); n != 2 {
				t.Errorf("at expiry: next called %d times, want 2", n)
			}
		})
	}
}

func TestNegativeCaching(t *testing.T) {
	tests := []struct {
		name    string
		opt     Options
		rcode   int
		answer  []string
		ns      []string
		want    uint32 // seconds kept and SOA TTL served; 0: not cached
		wantSOA bool
	}{
		{name: "NXDOMAIN by SOA minimum", rcode: dns.RcodeNameError,
			ns: []string{"example.org. 3600 IN SOA ns.example.org. host.example.org. 1 7200 3600 1209600 300"}, want: 300, wantSOA: true},
		{name: "NODATA by SOA minimum", rcode: dns.RcodeSuccess,
			ns: []string{"example.org. 3600 IN SOA ns.example.org. host.example.org. 1 7200 3600 1209600 300"}, want: 300, wantSOA: true},
		{name: "SOA TTL below minimum", rcode: dns.RcodeNameError,
			ns: []string{"example.org. 100 IN SOA ns.example.org. host.example.org. 1 7200 3600 1209600 300"}, want: 100, wantSOA: true},
		{name: "clamped to max", opt: Options{MaxTTL: time.Minute}, rcode: dns.RcodeNameError,
			ns: []string{"example.org. 3600 IN SOA ns.example.org. host.example.org. 1 7200 3600 1209600 300"}, want: 60, wantSOA: true},
		{name: "clamped to min", opt: Options{MinTTL: 10 * time.Minute}, rcode: dns.RcodeSuccess,
			ns: []string{"example.org. 3600 IN SOA ns.example.org. host.example.org. 1 7200 3600 1209600 300"}, want: 600, wantSOA: true},
		{name: "CNAME chain kept no longer than the CNAME", rcode: dns.RcodeNameError,
			answer: []string{"www.example.org. 60 IN CNAME gone.example.org."},
			ns:     []string{"example.org. 3600 IN SOA ns.example.org. host.example.org. 1 7200 3600 1209600 300"}, want: 60},
		{name: "NXDOMAIN without SOA", rcode: dns.RcodeNameError},
		{name: "NODATA without SOA", rcode: dns.RcodeSuccess},
		{name: "NODATA with only NS", rcode: dns.RcodeSuccess, ns: []string{"example.org. 3600 IN NS ns.example.org."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, u, clk := newCache(tt.opt, replyWith(tt.rcode, rrs(t, tt.answer...), rrs(t, tt.ns...), nil))
			ask(t, c, query("www.example.org.", dns.TypeA))
			m := ask(t, c, query("www.example.org.", dns.TypeA))
			if tt.want == 0 {
				if n := u.calls.Load(); n != 2 {
					t.Errorf("cached: next called %d times, want 2", n)
				}
				return
			}
			if n := u.calls.Load(); n != 1 {
				t.Fatalf("not cached: next called %d times, want 1", n)
			}
			if m.Rcode != tt.rcode {
				t.Errorf("hit rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tt.rcode])
			}
			if tt.wantSOA {
				if len(m.Ns) != 1 || m.Ns[0].Header().Ttl != tt.want {
					t.Errorf("hit authority %v, want the SOA with TTL %d", m.Ns, tt.want)
				}
			}
			clk.Advance(time.Duration(tt.want)*time.Second - time.Millisecond)
			ask(t, c, query("www.example.org.", dns.TypeA))
			if n := u.calls.Load(); n != 1 {
				t.Errorf("refetched before %ds", tt.want)
			}
			clk.Advance(time.Millisecond)
			ask(t, c, query("www.example.org.", dns.TypeA))
			if n := u.calls.Load(); n != 2 {
				t.Errorf("not refetched after %ds", tt.want)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	build := func(name string, qtype, qclass uint16, do, cd bool) *resolver.Query {
		q := query(name, qtype)
		q.Msg.Question[0].Qclass = qclass
		q.Msg.CheckingDisabled = cd
		if do {
			q.Msg.SetEdns0(1232, true)
		}
		return q
	}
	c, u, _ := newCache(Options{}, aRecord(300))
	// Each of these is its own entry: asked twice, each goes to next once.
	distinct := []struct {
		name string
		q    func() *resolver.Query
	}{
		{"base", func() *resolver.Query { return build("example.org.", dns.TypeA, dns.ClassINET, false, false) }},
		{"qtype", func() *resolver.Query { return build("example.org.", dns.TypeAAAA, dns.ClassINET, false, false) }},
		{"qclass", func() *resolver.Query { return build("example.org.", dns.TypeA, dns.ClassCHAOS, false, false) }},
		{"DO", func() *resolver.Query { return build("example.org.", dns.TypeA, dns.ClassINET, true, false) }},
		{"CD", func() *resolver.Query { return build("example.org.", dns.TypeA, dns.ClassINET, false, true) }},
		{"DO+CD", func() *resolver.Query { return build("example.org.", dns.TypeA, dns.ClassINET, true, true) }},
		{"EDNS without DO", func() *resolver.Query {
			q := build("example.org.", dns.TypeA, dns.ClassINET, false, false)
			q.Msg.SetEdns0(1232, false)
			return q
		}},
		{"name", func() *resolver.Query { return build("www.example.org.", dns.TypeA, dns.ClassINET, false, false) }},
	}
	misses := int64(0)
	for _, d := range distinct {
		if d.name != "EDNS without DO" { // same key as base: EDNS alone changes nothing
			misses++
		}
		ask(t, c, d.q())
		if n := u.calls.Load(); n != misses {
			t.Errorf("%s: next called %d times, want %d", d.name, n, misses)
		}
	}
	for _, d := range distinct {
		q := d.q()
		ask(t, c, q)
		if q.Trace.Cache != resolver.CacheHit {
			t.Errorf("%s asked again: %v, want hit", d.name, q.Trace.Cache)
		}
	}
	for _, name := range []string{"EXAMPLE.ORG.", "Example.Org."} {
		q := query(name, dns.TypeA)
		ask(t, c, q)
		if q.Trace.Cache != resolver.CacheHit {
			t.Errorf("%s: %v, want hit on example.org.", name, q.Trace.Cache)
		}
	}
	if n := u.calls.Load(); n != misses {
		t.Errorf("next called %d times, want %d", n, misses)
	}
}

// TestKeysCollide: keys that share an LRU slot never get each other's
// answer, fresh, covered or stale; the later store takes the slot.
func TestKeysCollide(t *testing.T) {
	fail := false
	c, u, clk := newCache(Options{ServeStale: time.Hour}, func(req *dns.Msg) (*dns.Msg, error) {
		if fail {
			return nil, errUpstream
		}
		return aRecord(60)(req)
	})
	c.slot = func(key) uint64 { return 1 } // every key collides
	qs := []*resolver.Query{
		query("example.org.", dns.TypeA),
		query("example.org.", dns.TypeAAAA),
		query("example.org.", dns.TypeA),
		query("www.example.org.", dns.TypeA),
	}
	qs[2].Msg.CheckingDisabled = true
	for i, q := range qs {
		m := ask(t, c, q)
		if q.Trace.Cache != resolver.CacheMiss || m.Question[0] != q.Msg.Question[0] {
			t.Errorf("query %d (%s): %v, question %v; want a miss answering its own", i, q.Name(), q.Trace.Cache, m.Question)
		}
		if i > 0 && c.Covers(qs[i-1].Msg) {
			t.Errorf("query %d: Covers the query before, whose slot it took", i)
		}
		if !c.Covers(q.Msg) {
			t.Errorf("query %d: not covered right after its answer was stored", i)
		}
	}
	if n := u.calls.Load(); n != int64(len(qs)) {
		t.Errorf("next called %d times, want %d", n, len(qs))
	}
	clk.Advance(2 * time.Minute)
	fail = true
	if _, err := c.Resolve(context.Background(), qs[0]); err == nil {
		t.Errorf("stale answer served for %s from another key's entry", qs[0].Name())
	}
	q := query("www.example.org.", dns.TypeA)
	if _, err := c.Resolve(context.Background(), q); err != nil || q.Trace.Cache != resolver.CacheStale {
		t.Errorf("the slot's own key: %v, %v; want stale", q.Trace.Cache, err)
	}
}

func TestNotCached(t *testing.T) {
	a := []string{"example.org. 300 IN A 192.0.2.1"}
	tests := []struct {
		name   string
		rcode  int
		answer []string
		tc     bool
	}{
		{name: "SERVFAIL", rcode: dns.RcodeServerFailure},
		{name: "SERVFAIL with records", rcode: dns.RcodeServerFailure, answer: a},
		{name: "REFUSED", rcode: dns.RcodeRefused},
		{name: "FORMERR", rcode: dns.RcodeFormatError},
		{name: "NOTIMP", rcode: dns.RcodeNotImplemented},
		{name: "truncated", rcode: dns.RcodeSuccess, answer: a, tc: true},
		{name: "zero TTL", rcode: dns.RcodeSuccess, answer: []string{"example.org. 0 IN A 192.0.2.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply := replyWith(tt.rcode, rrs(t, tt.answer...), nil, nil)
			c, u, _ := newCache(Options{ServeStale: time.Hour}, func(req *dns.Msg) (*dns.Msg, error) {
				m, err := reply(req)
				m.Truncated = tt.tc
				return m, err
			})
			for range 2 {
				m := ask(t, c, query("example.org.", dns.TypeA))
				if m.Rcode != tt.rcode || m.Truncated != tt.tc {
					t.Errorf("answer rcode %d TC %v, want as next gave it", m.Rcode, m.Truncated)
				}
			}
			if n := u.calls.Load(); n != 2 || c.Len() != 0 {
				t.Errorf("cached: next called %d times, %d entries", n, c.Len())
			}
		})
	}
}

func TestOPTStripped(t *testing.T) {
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 1232}}
	opt.Option = []dns.EDNS0{&dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeFiltered}}
	c, _, _ := newCache(Options{}, replyWith(dns.RcodeSuccess, rrs(t, "example.org. 300 IN A 192.0.2.1"), nil, []dns.RR{opt}))
	for _, what := range []string{"miss", "hit"} {
		m := ask(t, c, query("example.org.", dns.TypeA))
		if m.IsEdns0() != nil || len(m.Extra) != 0 {
			t.Errorf("%s: extra %v, want OPT removed", what, m.Extra)
		}
	}
}

func TestSizeBound(t *testing.T) {
	c, u, _ := newCache(Options{Size: 3}, aRecord(300))
	names := []string{"a.example.", "b.example.", "c.example.", "d.example.", "e.example."}
	for _, n := range names {
		ask(t, c, query(n, dns.TypeA))
	}
	if st := c.Stats(); st.Entries != 3 || st.Evictions != 2 || c.Len() != 3 {
		t.Errorf("after 5 names in a cache of 3: %+v, Len %d", st, c.Len())
	}
	for i, n := range []string{"e.example.", "d.example.", "c.example.", "a.example."} {
		q := query(n, dns.TypeA)
		ask(t, c, q)
		want := resolver.CacheHit
		if i == 3 {
			want = resolver.CacheMiss // least recently used, evicted
		}
		if q.Trace.Cache != want {
			t.Errorf("%s: %v, want %v", n, q.Trace.Cache, want)
		}
	}
	if n := u.calls.Load(); n != 6 {
		t.Errorf("next called %d times, want 6", n)
	}
}

func TestPurge(t *testing.T) {
	c, u, _ := newCache(Options{}, aRecord(300))
	ask(t, c, query("example.org.", dns.TypeA))
	c.Purge()
	if c.Len() != 0 {
		t.Errorf("Len() = %d after Purge, want 0", c.Len())
	}
	ask(t, c, query("example.org.", dns.TypeA))
	if n := u.calls.Load(); n != 2 {
		t.Errorf("next called %d times, want 2", n)
	}
}

func TestDisabled(t *testing.T) {
	u := &upstream{answer: aRecord(300)}
	c := New(u.step(), Options{Size: 0})
	for range 2 {
		q := query("example.org.", dns.TypeA)
		ask(t, c, q)
		if q.Trace.Cache != resolver.CacheMiss {
			t.Errorf("trace %v, want miss", q.Trace.Cache)
		}
	}
	if n := u.calls.Load(); n != 2 || c.Len() != 0 {
		t.Errorf("disabled cache: next called %d times, %d entries", n, c.Len())
	}
}

func TestNextContractBroken(t *testing.T) {
	c, _, _ := newCache(Options{}, func(*dns.Msg) (*dns.Msg, error) { return nil, nil })
	if _, err := c.Resolve(context.Background(), query("example.org.", dns.TypeA)); !errors.Is(err, errNoAnswer) {
		t.Errorf("Resolve error %v, want %v", err, errNoAnswer)
	}
}

// TestEntrySize: an entry keeps its answer compressed, in a buffer of its
// exact size, not one of the uncompressed length.
func TestEntrySize(t *testing.T) {
	c, _, _ := newCache(Options{}, aRecord(300))
	q := query("www.example.org.", dns.TypeA)
	m := ask(t, c, q)
	k := keyOf(q.Msg)
	e, ok := c.peek(&k)
	if !ok {
		t.Fatal("not cached")
	}
	m.Compress = false
	plain, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if cap(e) != len(e) || len(e.packed()) >= len(plain) {
		t.Errorf("entry %d bytes (answer %d) in %d, want exact and the answer under the uncompressed %d",
			len(e), len(e.packed()), cap(e), len(plain))
	}
}
