package querylog

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// benchEntry is a typical row: the strings a real query carries.
func benchEntry(i int) Entry {
	devices := [...]string{"tablet", "laptop", "phone", "tv", "console"}
	// Seven decisions against five devices, so that every device has some
	// of each.
	decisions := [...]string{"allowed", "allowed", "blocked", "allowed", "allowed", "rewritten", "blocked"}
	e := Entry{
		Time:     t0.Add(time.Duration(i) * 25 * time.Second), // 100k rows span ~29 days
		Client:   netip.AddrFrom4([4]byte{192, 168, 1, byte(i % 5)}),
		Device:   devices[i%len(devices)],
		Profile:  "kids",
		Name:     fmt.Sprintf("host%d.example%d.com", i%500, i%37),
		Type:     1,
		Proto:    "udp",
		Decision: decisions[i%len(decisions)],
		Cache:    "miss",
		Upstream: "9.9.9.9:53",
		Latency:  12 * time.Millisecond,
	}
	if e.Decision == "blocked" {
		e.Category, e.Rule, e.Cache, e.Upstream = "ads", "||example.com^", "none", ""
	}
	return e
}

// BenchmarkAdd is the cost a query pays: one non-blocking channel send.
func BenchmarkAdd(b *testing.B) {
	l := openTest(b, Options{Buffer: 1 << 16})
	e := benchEntry(1)
	b.ReportAllocs()
	for b.Loop() {
		l.Add(e)
	}
}

func BenchmarkAddParallel(b *testing.B) {
	l := openTest(b, Options{Buffer: 1 << 16})
	e := benchEntry(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Add(e)
		}
	})
}

// BenchmarkWriterRows is the writer's cost per row end to end (Add, batch,
// insert, commit, Flush, default batch size); its inverse is the sustained
// rate the log keeps up with. ns/op, B/op and allocs/op are per row;
// cpu-µs/row is the whole process's CPU time per row (writer, driver,
// garbage collector), which on a busy machine tells more than the wall
// clock. Run it with a fixed count, e.g. -benchtime 200000x, so that runs
// compare tables of the same size. Times increase row by row, as they do
// on a server: recycling a few timestamps would scatter the time index's
// inserts over the whole table and measure a workload that never happens.
func BenchmarkWriterRows(b *testing.B) {
	l := openTest(b, Options{Buffer: 1 << 16})
	es := make([]Entry, 1000)
	for i := range es {
		es[i] = benchEntry(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, cpuOK := processCPU()
	// Not b.Loop: the timer must run until the last row is written.
	for n := range b.N {
		e := es[n%len(es)]
		e.Time = t0.Add(time.Duration(n) * time.Millisecond)
		for !l.Add(e) {
			flush(b, l)
		}
	}
	flush(b, l)
	b.StopTimer()
	if cpu1, _ := processCPU(); cpuOK {
		b.ReportMetric(float64(cpu1-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/row")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	if l.Written() != uint64(b.N) {
		b.Fatalf("wrote %d of %d rows", l.Written(), b.N)
	}
}

// BenchmarkSearch queries a log of 100k rows spread over a month.
func BenchmarkSearch(b *testing.B) {
	l := openTest(b, Options{Buffer: 100_000, BatchSize: 1000})
	const n = 100_000
	for i := range n {
		l.Add(benchEntry(i))
	}
	flush(b, l)
	if l.Written() != n {
		b.Fatalf("setup wrote %d rows", l.Written())
	}
	ctx := context.Background()
	mid := t0.Add(15 * 24 * time.Hour)
	searches := []struct {
		name string
		f    Filter
	}{
		{"newest", Filter{}},
		{"device", Filter{Device: "tv"}},
		{"blocked", Filter{Decision: "blocked"}},
		{"device+blocked", Filter{Device: "tablet", Decision: "blocked"}},
		{"name-substring", Filter{Name: "host42."}},
		{"rare-name", Filter{Name: "host499.example0.com"}},
		{"day-range", Filter{From: mid, To: mid.Add(24 * time.Hour)}},
		{"device+day", Filter{Device: "phone", From: mid, To: mid.Add(24 * time.Hour)}},
		{"deep-page", Filter{Before: n / 2}},
	}
	for _, s := range searches {
		b.Run(s.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := l.Search(ctx, s.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	end := t0.Add(n * 25 * time.Second)
	b.Run("stats-day-by-device-month", func(b *testing.B) {
		for b.Loop() {
			if _, err := l.Stats(ctx, t0, end, Day, "device"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("top-blocked-month", func(b *testing.B) {
		for b.Loop() {
			if _, err := l.Top(ctx, t0, end, true, "", 10); err != nil {
				b.Fatal(err)
			}
		}
	})
}
