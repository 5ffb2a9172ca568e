package access

import (
	"net/netip"
	"sync/atomic"
	"testing"
)

// limited is a Guard with every limit on, high enough that the benchmarked
// clients are served: the serve path is the one that matters.
func limited(tb testing.TB) *Guard {
	tb.Helper()
	return New(Options{
		ClientRate: 1e9, Prefix4Rate: 1e9, Prefix6Rate: 1e9,
		Deny:   prefixes(tb, "10.66.0.0/16", "fd66::/16"),
		Exempt: prefixes(tb, "10.0.0.254"),
	})
}

func BenchmarkCheck(b *testing.B) {
	for _, s := range []string{"192.168.1.20", "fd00::53", "8.8.8.8"} {
		b.Run(s, func(b *testing.B) {
			g := limited(b)
			a := addr(b, s)
			want, _ := g.Check(a)
			b.ReportAllocs()
			for b.Loop() {
				if got, _ := g.Check(a); got != want {
					b.Fatalf("Check(%s) = %v, want %v", s, got, want)
				}
			}
		})
	}
	b.Run("no limits", func(b *testing.B) {
		g := New(Options{})
		a := addr(b, "192.168.1.20")
		b.ReportAllocs()
		for b.Loop() {
			g.Check(a)
		}
	})
}

// BenchmarkCheckParallel has each goroutine ask as its own client.
func BenchmarkCheckParallel(b *testing.B) {
	g := limited(b)
	var next atomic.Uint32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		n := next.Add(1)
		a := netip.AddrFrom4([4]byte{10, byte(n >> 8), byte(n), 1})
		for pb.Next() {
			if got, _ := g.Check(a); got != Serve {
				b.Errorf("Check(%s) = %v", a, got)
				return
			}
		}
	})
}

// BenchmarkCheckFlood sends every query from a new address, so each one
// takes a bucket from someone: the cost of a spoofed-source flood.
func BenchmarkCheckFlood(b *testing.B) {
	g := New(Options{ClientRate: 10, Prefix4Rate: 100, MaxClients: 10000})
	var i uint32
	b.ReportAllocs()
	for b.Loop() {
		i++
		g.Check(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
}
