package server

import (
	"net/netip"
	"testing"
)

func TestInflightLimiter(t *testing.T) {
	a, b, c := netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("192.168.1.11"), netip.MustParseAddr("fd00::1")
	type step struct {
		release bool
		ip      netip.Addr
		want    bool // for an acquire
	}
	tests := []struct {
		name       string
		max, perIP int
		steps      []step
	}{
		{"per IP", 10, 2, []step{
			{false, a, true}, {false, a, true}, {false, a, false},
			{false, b, true}, {false, c, true},
			{true, a, false}, {false, a, true}, {false, a, false},
		}},
		{"overall", 3, 10, []step{
			{false, a, true}, {false, b, true}, {false, c, true}, {false, a, false}, {false, b, false},
			{true, c, false}, {false, b, true},
		}},
		{"the zero address is one client", 10, 1, []step{
			{false, netip.Addr{}, true}, {false, netip.Addr{}, false}, {true, netip.Addr{}, false}, {false, netip.Addr{}, true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newInflightLimiter(tc.max, tc.perIP)
			held := map[netip.Addr]int64{}
			for i, s := range tc.steps {
				if s.release {
					l.release(s.ip)
					held[s.ip]--
					continue
				}
				if got := l.acquire(s.ip); got != s.want {
					t.Fatalf("step %d: acquire(%v) = %v, want %v", i, s.ip, got, s.want)
				} else if got {
					held[s.ip]++
				}
			}
			var sum int64
			for ip, n := range held {
				sum += n
				if _, fromIP := l.counts(ip); fromIP != n {
					t.Errorf("%v: %d in flight, want %d", ip, fromIP, n)
				}
			}
			if total, _ := l.counts(a); total != sum {
				t.Errorf("%d in flight overall, want %d", total, sum)
			}
			for ip, n := range held {
				for range n {
					l.release(ip)
				}
			}
			for i := range l.shards {
				if n := len(l.shards[i].n); n != 0 {
					t.Errorf("shard %d keeps %d idle clients", i, n)
				}
			}
		})
	}
}

// TestInflightNoAlloc: the limiter is on every query's path; a client
// already seen in its shard costs no allocation.
func TestInflightNoAlloc(t *testing.T) {
	l := newInflightLimiter(100, 10)
	ip := netip.MustParseAddr("192.168.1.10")
	l.acquire(ip)
	l.release(ip)
	if n := testing.AllocsPerRun(1000, func() {
		if l.acquire(ip) {
			l.release(ip)
		}
	}); n != 0 {
		t.Errorf("%v allocations per query, want 0", n)
	}
}

func BenchmarkInflight(b *testing.B) {
	l := newInflightLimiter(defaultMaxInFlight, defaultMaxInFlightPerIP)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		// Clients spread over 256 addresses, as on a busy network.
		var i byte
		for pb.Next() {
			i++
			ip := netip.AddrFrom4([4]byte{192, 168, 1, i})
			if l.acquire(ip) {
				l.release(ip)
			}
		}
	})
}
