package access

import (
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
)

// newClock returns a test clock at the tests' fixed start time.
func newClock() *dnstest.Clock { return dnstest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) }

// step is one expectation in a rate-limit script: advance the clock, then
// send n queries from addr and expect them all to get want.
type step struct {
	advance time.Duration
	addr    string
	n       int
	want    Reason
}

func runSteps(t *testing.T, opt Options, steps []step) *Guard {
	t.Helper()
	c := newClock()
	opt.Now = c.Now
	g := New(opt)
	for i, s := range steps {
		c.Advance(s.advance)
		for j := range s.n {
			if _, r := g.Check(addr(t, s.addr)); r != s.want {
				t.Fatalf("step %d (%s), query %d of %d: reason %v, want %v", i, s.addr, j+1, s.n, r, s.want)
			}
		}
	}
	return g
}

func TestClientBucket(t *testing.T) {
	tests := []struct {
		name  string
		opt   Options
		steps []step
	}{
		{"burst, limit, refill", Options{ClientRate: 10, ClientBurst: 5}, []step{
			{0, "10.0.0.1", 5, Allowed},
			{0, "10.0.0.1", 3, ClientRate},
			{0, "10.0.0.2", 5, Allowed}, // another client has its own bucket
			{0, "::ffff:10.0.0.1", 1, ClientRate},
			{100 * time.Millisecond, "10.0.0.1", 1, Allowed}, // one token back
			{0, "10.0.0.1", 1, ClientRate},
			{50 * time.Millisecond, "10.0.0.1", 1, ClientRate}, // half a token
			{50 * time.Millisecond, "10.0.0.1", 1, Allowed},
			{time.Hour, "10.0.0.1", 5, Allowed}, // refills to the burst, no more
			{0, "10.0.0.1", 1, ClientRate},
		}},
		{"default burst is twice the rate", Options{ClientRate: 10}, []step{
			{0, "192.168.1.9", 20, Allowed},
			{0, "192.168.1.9", 1, ClientRate},
		}},
		{"fractional rate", Options{ClientRate: 0.5, ClientBurst: 1}, []step{
			{0, "fd00::1", 1, Allowed},
			{time.Second, "fd00::1", 1, ClientRate},
			{time.Second, "fd00::1", 1, Allowed},
		}},
		{"unlimited", Options{}, []step{
			{0, "10.0.0.1", 10000, Allowed},
		}},
		{"clock going back does not refill", Options{ClientRate: 1, ClientBurst: 2}, []step{
			{0, "10.0.0.1", 2, Allowed},
			{-time.Hour, "10.0.0.1", 1, ClientRate},
		}},
		{"ACL comes first", Options{ClientRate: 1, ClientBurst: 1, Deny: prefixes(t, "10.0.0.1")}, []step{
			{0, "10.0.0.1", 5, Denied},
			{0, "8.8.8.8", 5, NotAllowed},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runSteps(t, tc.opt, tc.steps) })
	}
}

func TestPrefixBucket(t *testing.T) {
	// Ten different addresses of one /24 share its bucket; another /24
	// and the other family are unaffected.
	var steps []step
	for i := range 10 {
		steps = append(steps, step{0, netip.AddrFrom4([4]byte{10, 0, 1, byte(i + 1)}).String(), 1, Allowed})
	}
	steps = append(steps,
		step{0, "10.0.1.200", 1, PrefixRate},
		step{0, "10.0.1.1", 1, PrefixRate},
		step{0, "10.0.2.1", 10, Allowed},
		step{0, "10.0.2.2", 1, PrefixRate},
		step{0, "fd00::1", 3, Allowed}, // IPv6 is unlimited here
		step{time.Second, "10.0.1.99", 1, Allowed},
		step{0, "10.0.1.98", 1, PrefixRate},
	)
	runSteps(t, Options{Prefix4Rate: 1, PrefixBurst: 10}, steps)

	t.Run("custom prefix length", func(t *testing.T) {
		runSteps(t, Options{Prefix4Rate: 1, PrefixBurst: 2, Prefix4Bits: 16}, []step{
			{0, "10.1.1.1", 1, Allowed},
			{0, "10.1.200.1", 1, Allowed},
			{0, "10.1.3.1", 1, PrefixRate},
			{0, "10.2.1.1", 1, Allowed},
		})
	})
}

func TestIPv6Grouping(t *testing.T) {
	tests := []struct {
		name  string
		opt   Options
		steps []step
	}{
		{"clients are /128 by default", Options{ClientRate: 1, ClientBurst: 1}, []step{
			{0, "fd00::1", 1, Allowed},
			{0, "fd00::1", 1, ClientRate},
			{0, "fd00::2", 1, Allowed},
			{0, "fe80::1%eth0", 1, Allowed},
			{0, "fe80::1%eth1", 1, ClientRate}, // zones are not part of the client
		}},
		{"clients per /64", Options{ClientRate: 1, ClientBurst: 2, Client6Bits: 64}, []step{
			{0, "fd00::1", 1, Allowed},
			{0, "fd00::ffff:ffff:ffff:ffff", 1, Allowed},
			{0, "fd00::abcd", 1, ClientRate},
			{0, "fd00:0:0:1::1", 2, Allowed},
			{0, "10.0.0.1", 2, Allowed},
		}},
		{"prefix per /56", Options{Prefix6Rate: 1, PrefixBurst: 3}, []step{
			{0, "fd00::1", 1, Allowed},
			{0, "fd00:0:0:1::1", 1, Allowed},
			{0, "fd00:0:0:ff::1", 1, Allowed},
			{0, "fd00:0:0:ff::2", 1, PrefixRate},
			{0, "fd00:0:0:100::1", 3, Allowed},
			{0, "fd00:0:0:100::1", 1, PrefixRate},
			{0, "10.0.0.1", 5, Allowed}, // IPv4 is unlimited here
		}},
		{"both families, own rates", Options{Prefix4Rate: 1, Prefix6Rate: 2, PrefixBurst: 1}, []step{
			{0, "fd00::1", 1, Allowed},
			{0, "fd00::1", 1, PrefixRate},
			{0, "10.0.0.1", 1, Allowed},
			{0, "10.0.0.1", 1, PrefixRate},
			{500 * time.Millisecond, "fd00::1", 1, Allowed},
			{0, "10.0.0.1", 1, PrefixRate},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runSteps(t, tc.opt, tc.steps) })
	}
}

func TestExempt(t *testing.T) {
	runSteps(t, Options{
		ClientRate: 1, ClientBurst: 1, Prefix4Rate: 1, PrefixBurst: 1,
		Allow:  prefixes(t, "10.0.0.0/8"),
		Deny:   prefixes(t, "10.0.0.66"),
		Exempt: prefixes(t, "10.0.0.1", "10.9.0.0/16", "8.8.8.8", "10.0.0.66"),
	}, []step{
		{0, "10.0.0.1", 100, Allowed},
		{0, "10.9.7.7", 100, Allowed},
		{0, "10.0.0.2", 1, Allowed}, // the exempt queries took nothing from its /24
		{0, "10.0.0.2", 1, ClientRate},
		{0, "10.0.0.3", 1, PrefixRate},
		{0, "8.8.8.8", 1, NotAllowed}, // exempt from limits, not from the ACL
		{0, "10.0.0.66", 1, Denied},
	})
}

func TestOverLimit(t *testing.T) {
	tests := []struct {
		over, want Action
	}{
		{Serve, Refuse}, // the zero value means the default
		{Refuse, Refuse},
		{Drop, Drop},
	}
	for _, tc := range tests {
		t.Run(tc.over.String(), func(t *testing.T) {
			c := newClock()
			g := New(Options{ClientRate: 1, ClientBurst: 1, Prefix4Rate: 1, PrefixBurst: 2, OverLimit: tc.over, Now: c.Now})
			check := func(s string, wantA Action, wantR Reason) {
				t.Helper()
				if a, r := g.Check(addr(t, s)); a != wantA || r != wantR {
					t.Fatalf("Check(%s) = %v, %v; want %v, %v", s, a, r, wantA, wantR)
				}
			}
			check("10.0.0.1", Serve, Allowed)
			check("10.0.0.1", tc.want, ClientRate)
			check("10.0.0.2", Serve, Allowed)
			check("10.0.0.3", tc.want, PrefixRate)
			check("8.8.8.8", Refuse, NotAllowed) // ACL refusals always answer
		})
	}
}

func TestClientLimitSparesPrefix(t *testing.T) {
	// One client hammering past its own limit must not use up the
	// bucket its neighbours share.
	runSteps(t, Options{ClientRate: 1, ClientBurst: 2, Prefix4Rate: 1, PrefixBurst: 5}, []step{
		{0, "10.0.0.1", 2, Allowed},
		{0, "10.0.0.1", 50, ClientRate},
		{0, "10.0.0.2", 2, Allowed},
		{0, "10.0.0.3", 1, Allowed},
		{0, "10.0.0.4", 1, PrefixRate},
	})
}

func TestStats(t *testing.T) {
	c := newClock()
	g := New(Options{ClientRate: 1, ClientBurst: 2, Prefix6Rate: 1, PrefixBurst: 2, Deny: prefixes(t, "10.6.6.6"), Now: c.Now})
	for _, s := range []string{"10.0.0.1", "10.0.0.1", "10.0.0.1", "10.6.6.6", "8.8.8.8", "8.8.4.4", "fd00::1", "fd00::2", "fd00::3"} {
		g.Check(addr(t, s))
	}
	want := Stats{Served: 4, Denied: 1, NotAllowed: 2, ClientRate: 1, PrefixRate: 1, ClientBuckets: 4, PrefixBuckets: 1}
	if got := g.Stats(); got != want {
		t.Errorf("Stats() = %+v\nwant      %+v", got, want)
	}
	c.Advance(time.Hour) // every bucket full again: nothing tracked
	want.ClientBuckets, want.PrefixBuckets = 0, 0
	if got := g.Stats(); got != want {
		t.Errorf("after an hour Stats() = %+v\nwant      %+v", got, want)
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	g := New(Options{ClientRate: 1e6, Prefix4Rate: 1e6, Prefix6Rate: 1e6, Exempt: prefixes(t, "10.9.9.9")})
	for _, s := range []string{"10.0.0.1", "fe80::1%eth0", "::ffff:192.168.0.1", "8.8.8.8", "10.9.9.9"} {
		a := addr(t, s)
		if n := testing.AllocsPerRun(100, func() { g.Check(a) }); n != 0 {
			t.Errorf("Check(%s) allocates %v times", s, n)
		}
	}
}

func TestMaxClientsFlood(t *testing.T) {
	// A million spoofed sources against a 1000-bucket bound: the tables
	// stay within it, Check allocates nothing, and a client that is being
	// held back stays held back.
	const bound = 1000
	c := newClock()
	g := New(Options{
		ClientRate: 1, ClientBurst: 5, Prefix4Rate: 1, Prefix6Rate: 1, PrefixBurst: 5,
		MaxClients: bound, Now: c.Now,
	})
	heavy := addr(t, "192.168.7.7")
	for range 5 {
		g.Check(heavy)
	}
	if _, r := g.Check(heavy); r != ClientRate {
		t.Fatalf("heavy client before the flood: %v, want %v", r, ClientRate)
	}
	flood := func() {
		for i := range uint32(1_000_000) {
			if i%2 == 0 {
				g.Check(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
			} else {
				var b [16]byte
				b[0], b[1] = 0xfd, 0x01
				b[5], b[9], b[13], b[15] = byte(i>>16), byte(i>>8), byte(i), byte(i>>4)
				g.Check(netip.AddrFrom16(b))
			}
			if i%100_000 == 0 {
				c.Advance(time.Millisecond)
				if s := g.Stats(); s.ClientBuckets > bound || s.PrefixBuckets > bound {
					t.Errorf("after %d queries: %d client and %d prefix buckets, bound %d", i, s.ClientBuckets, s.PrefixBuckets, bound)
				}
			}
		}
	}
	// Three floods: AllocsPerRun counts every allocation in the process
	// and divides by the runs, so one stray allocation elsewhere in the
	// process comes to 0, while one per query, or per eviction, comes to
	// hundreds of thousands. With one flood, a single stray allocation
	// failed the test once in three runs of the whole suite on a loaded
	// machine, never in twenty of this test alone.
	if n := testing.AllocsPerRun(3, flood); n != 0 {
		t.Errorf("a flood of a million addresses allocated %v times", n)
	}
	s := g.Stats()
	if s.ClientBuckets > bound || s.PrefixBuckets > bound || s.ClientBuckets < bound/2 {
		t.Errorf("after the flood: %d client and %d prefix buckets, bound %d", s.ClientBuckets, s.PrefixBuckets, bound)
	}
	if s.Evicted == 0 {
		t.Error("no evictions counted")
	}
	if s.Served+s.ClientRate+s.PrefixRate != 4_000_006 {
		t.Errorf("counters add up to %d, want 4000006", s.Served+s.ClientRate+s.PrefixRate)
	}
	if _, r := g.Check(heavy); r != ClientRate {
		t.Errorf("heavy client after the flood: %v, want %v (its bucket was evicted)", r, ClientRate)
	}
}

func TestConcurrentCheck(t *testing.T) {
	// With the clock stopped, a bucket hands out exactly its burst however
	// many goroutines ask at once.
	c := newClock()
	g := New(Options{ClientRate: 1, ClientBurst: 50, Prefix4Rate: 1, PrefixBurst: 200, Now: c.Now})
	const workers, each = 8, 1000
	var served [4]atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				client := (w + i) % 4
				if a, _ := g.Check(netip.AddrFrom4([4]byte{10, 0, 0, byte(client + 1)})); a == Serve {
					served[client].Add(1)
				}
				if i%100 == 0 {
					g.Stats()
				}
			}
		})
	}
	wg.Wait()
	for i := range served {
		if n := served[i].Load(); n != 50 {
			t.Errorf("client %d served %d queries, want its burst of 50", i, n)
		}
	}
	if s := g.Stats(); s.Served != 200 || s.ClientRate != workers*each-200 {
		t.Errorf("Stats() = %+v", s)
	}
}

func TestKeyMask(t *testing.T) {
	tests := []struct {
		addr string
		bits int
		want string
	}{
		{"10.1.2.3", 128, "::ffff:10.1.2.3"},
		{"10.1.2.3", 120, "::ffff:10.1.2.0"},
		{"10.1.2.3", 97, "::ffff:0.0.0.0"},
		{"200.1.2.3", 97, "::ffff:128.0.0.0"},
		{"::ffff:200.1.2.3", 97, "::ffff:128.0.0.0"},
		{"fe80::1%eth0", 128, "fe80::1"},
		{"2001:db8::1", 0, "::"},
		{"2001:db8::1", 1, "::"},
		{"ffff:db8::1", 1, "8000::"},
		{"2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6"},
		{"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::"},
		{"2001:db8:1:2ff:3:4:5:6", 56, "2001:db8:1:200::"},
		{"2001:db8:1:2:3:4:5:6", 96, "2001:db8:1:2:3:4::"},
	}
	for _, tc := range tests {
		k := keyFrom(addr(t, tc.addr)).and(maskOf(tc.bits))
		var b [16]byte
		for i := range 8 {
			b[i] = byte(k.hi >> (56 - 8*i))
			b[8+i] = byte(k.lo >> (56 - 8*i))
		}
		if got := netip.AddrFrom16(b).String(); got != tc.want {
			t.Errorf("key of %s masked to %d bits = %s, want %s", tc.addr, tc.bits, got, tc.want)
		}
	}
}

func TestNewLimit(t *testing.T) {
	tests := []struct {
		name          string
		rate          float64
		burst         int
		interval, tau int64
		wantOn        bool
	}{
		{name: "off", rate: 0},
		{name: "negative", rate: -5},
		{name: "NaN", rate: math.NaN()},
		{name: "Inf", rate: math.Inf(1)},
		{name: "10/s burst 5", rate: 10, burst: 5, interval: 1e8, tau: 5e8, wantOn: true},
		{name: "10/s default burst", rate: 10, interval: 1e8, tau: 20e8, wantOn: true},
		{name: "tiny rate", rate: 1e-30, burst: 1, interval: maxInterval, tau: maxInterval, wantOn: true},
		{name: "huge rate", rate: 1e30, burst: 1 << 40, interval: 1, tau: maxBurst, wantOn: true},
	}
	for _, tc := range tests {
		l := newLimit(tc.rate, tc.burst)
		if l.on() != tc.wantOn || (tc.wantOn && (l.interval != tc.interval || l.tau != tc.tau)) {
			t.Errorf("%s: newLimit(%v, %d) = %+v, want interval %d tau %d on %t", tc.name, tc.rate, tc.burst, l, tc.interval, tc.tau, tc.wantOn)
		}
	}
}
