package querylog

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
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

// BenchmarkAdd is the cost a query pays: one append under a mutex (the
// first runs include the queue's slices growing).
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

// BenchmarkBatchAdd is the writer's cost of taking one entry into a batch,
// collapsing ("1s", the default window) or not ("0s"), for a client asking
// 3000 names Zipf-like: what collapsing costs a query beyond the row.
func BenchmarkBatchAdd(b *testing.B) {
	es := repeatedEntries(1<<17, 1, 3000)
	for _, w := range []time.Duration{DefaultCollapse, 0} {
		b.Run(w.String(), func(b *testing.B) {
			bt := newBatch(DefaultBatchSize, w, false)
			i := 0
			for b.Loop() {
				if bt.add(&es[i%len(es)]) {
					bt.reset()
				}
				i++
			}
		})
	}
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
// No two of its entries collapse (an entry recurs a second later): this is
// the worst case, every query a row.
func BenchmarkWriterRows(b *testing.B) {
	es := make([]Entry, 1000)
	for i := range es {
		es[i] = benchEntry(i)
	}
	benchWriter(b, Options{}, es, time.Millisecond, "row", "rows")
}

// BenchmarkWriterRepeated is the writer's cost per query for what a busy
// server is sent: 100k queries a second, names drawn Zipf-like from a few
// thousand, mostly answered from the cache. "one-client" is a load
// generator (or a busy resolver behind Haven) asking 3000 names;
// "three-clients" three devices asking 5000, which collapse less.
// "collapse" is the default, "no-collapse" the same workload with
// Collapse off, and "no-collapse-batch-500" also with the batch size of
// before collapsing existed: the writer as it was.
func BenchmarkWriterRepeated(b *testing.B) {
	for _, w := range []struct {
		name           string
		clients, names int
	}{
		{"one-client", 1, 3000},
		{"three-clients", 3, 5000},
	} {
		es := repeatedEntries(1<<17, w.clients, w.names)
		for _, bc := range []struct {
			name string
			opt  Options
		}{
			{"collapse", Options{}},
			{"no-collapse", Options{Collapse: NoCollapse}},
			{"no-collapse-batch-500", Options{Collapse: NoCollapse, BatchSize: 500}},
		} {
			b.Run(w.name+"/"+bc.name, func(b *testing.B) {
				benchWriter(b, bc.opt, es, 10*time.Microsecond, "query", "queries")
			})
		}
	}
}

// repeatedEntries returns n entries of BenchmarkWriterRepeated's workload.
func repeatedEntries(n, clients, names int) []Entry {
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, 1.1, 1, uint64(names-1))
	devices := [...]string{"tablet", "laptop", "phone"}
	es := make([]Entry, n)
	for i := range es {
		k := int(z.Uint64())
		c := r.IntN(clients)
		e := Entry{
			Client:   netip.AddrFrom4([4]byte{192, 168, 1, byte(10 + c)}),
			Device:   devices[c%len(devices)],
			Profile:  "kids",
			Name:     fmt.Sprintf("host%d.example%d.com", k, k%37),
			Type:     1,
			Proto:    "udp",
			Decision: "allowed",
			Cache:    "hit",
			Latency:  time.Duration(20+r.IntN(40)) * time.Microsecond,
		}
		switch {
		case k%10 == 7:
			e.Decision, e.Category, e.Rule, e.Cache = "blocked", "ads", "||example7.com^", "none"
		case r.IntN(50) == 0: // expired: asked upstream again
			e.Cache, e.Upstream, e.Latency = "miss", "9.9.9.9:53", 12*time.Millisecond
		}
		es[i] = e
	}
	return es
}

// benchWriter adds b.N entries cycling through es, the n-th stamped
// n*step after t0, and flushes; it reports CPU time per entry as
// cpu-µs/unit, and (unless the unit is a row) how many entries a row
// took.
func benchWriter(b *testing.B, opt Options, es []Entry, step time.Duration, unit, units string) {
	opt.Buffer = 1 << 16
	l := openTest(b, opt)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, cpuOK := dnstest.ProcessCPU()
	// Not b.Loop: the timer must run until the last row is written.
	for n := range b.N {
		e := es[n%len(es)]
		e.Time = t0.Add(time.Duration(n) * step)
		for !l.Add(e) {
			flush(b, l)
		}
	}
	flush(b, l)
	b.StopTimer()
	if cpu1, _ := dnstest.ProcessCPU(); cpuOK {
		b.ReportMetric(float64(cpu1-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/"+unit)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), units+"/s")
	if unit != "row" {
		b.ReportMetric(float64(l.Written())/float64(max(l.WrittenRows(), 1)), units+"/row")
	} else if l.WrittenRows() != l.Written() {
		b.Fatalf("%d entries collapsed into %d rows: not a row each", l.Written(), l.WrittenRows())
	}
	if l.Written() != uint64(b.N) {
		b.Fatalf("wrote %d of %d entries", l.Written(), b.N)
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
	// The cursor of a page in the middle: the rows older than mid.
	page, _, err := l.Search(ctx, Filter{To: mid, Limit: 1})
	if err != nil || len(page) != 1 {
		b.Fatalf("Search(To: mid) = %d rows, %v", len(page), err)
	}
	midID := page[0].ID
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
		{"deep-page", Filter{Before: midID}},
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
