package querylog

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkSearchScale is what the console asks of logs of 100k and 1M
// rows (benchEntry's, 25 s apart): a first page, newest or filtered by
// device or by decision, and a day's statistics per device. It uses only
// the public API, so the same file measures any storage version.
func BenchmarkSearchScale(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%dk", n/1000), func(b *testing.B) {
			l := openTest(b, Options{Buffer: 1 << 16, Retention: KeepForever})
			for i := range n {
				for !l.Add(benchEntry(i)) {
					flush(b, l)
				}
			}
			flush(b, l)
			if l.Written() != uint64(n) {
				b.Fatalf("setup wrote %d rows", l.Written())
			}
			ctx := context.Background()
			for _, s := range []struct {
				name string
				f    Filter
			}{
				{"first-page", Filter{}},
				{"device", Filter{Device: "tv"}},
				{"blocked", Filter{Decision: "blocked"}},
			} {
				b.Run(s.name, func(b *testing.B) {
					for b.Loop() {
						rows, _, err := l.Search(ctx, s.f)
						if err != nil || len(rows) != DefaultLimit {
							b.Fatalf("Search = %d rows, %v", len(rows), err)
						}
					}
				})
			}
			mid := t0.Add(time.Duration(n/2) * 25 * time.Second)
			day := time.Date(mid.Year(), mid.Month(), mid.Day(), 0, 0, 0, 0, time.UTC)
			b.Run("stats-day-by-device", func(b *testing.B) {
				for b.Loop() {
					ss, err := l.Stats(ctx, day, day.Add(24*time.Hour), Hour, "device")
					if err != nil || len(ss) == 0 {
						b.Fatalf("Stats = %d, %v", len(ss), err)
					}
				}
			})
		})
	}
}
