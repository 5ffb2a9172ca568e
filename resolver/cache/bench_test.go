package cache

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

// benchAnswer is a typical small answer: a CNAME and two addresses.
func benchAnswer(tb testing.TB, req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Answer = rrs(tb,
		req.Question[0].Name+" 300 IN CNAME edge.example.net.",
		"edge.example.net. 60 IN A 192.0.2.1",
		"edge.example.net. 60 IN A 192.0.2.2")
	return m
}

func BenchmarkHit(b *testing.B) {
	q := query("www.example.org.", dns.TypeA)
	answer := benchAnswer(b, q.Msg)
	next := resolver.Func(func(context.Context, *resolver.Query) (*dns.Msg, error) { return answer.Copy(), nil })
	c := New(next, Options{Size: 1024})
	ctx := context.Background()
	if _, err := c.Resolve(ctx, q); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		q.Trace = resolver.Trace{}
		if _, err := c.Resolve(ctx, q); err != nil || q.Trace.Cache != resolver.CacheHit {
			b.Fatalf("not a hit: %v %v", q.Trace.Cache, err)
		}
	}
}

// BenchmarkMiss measures a miss that stores: key, flight, pack and LRU
// insert with eviction. Next hands back a prebuilt answer, so its cost is
// not counted.
func BenchmarkMiss(b *testing.B) {
	const names = 1 << 14
	qs := make([]*resolver.Query, names)
	answers := make([]*dns.Msg, names)
	for i := range qs {
		qs[i] = query("host"+strconv.Itoa(i)+".example.org.", dns.TypeA)
		answers[i] = benchAnswer(b, qs[i].Msg)
	}
	i := 0
	next := resolver.Func(func(context.Context, *resolver.Query) (*dns.Msg, error) { return answers[i%names], nil })
	c := New(next, Options{Size: names / 2}) // every name is evicted before it comes round again
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		q := qs[i%names]
		q.Trace = resolver.Trace{}
		if _, err := c.Resolve(ctx, q); err != nil || q.Trace.Cache != resolver.CacheMiss {
			b.Fatalf("not a miss: %v %v", q.Trace.Cache, err)
		}
		i++
	}
}

// BenchmarkMemory reports the heap a cached answer takes (B/entry), the
// answer itself and the cache's bookkeeping, over 100,000 entries, and
// times misses that store into a cache that size, whose map and list are
// far larger than the processor's caches, as on a busy network. The
// names' strings are made before counting: a server's key holds on to
// the query's, about 32 bytes more an entry.
func BenchmarkMemory(b *testing.B) {
	const names = 100_000
	qs := make([]*resolver.Query, 2*names)
	answers := make([]*dns.Msg, len(qs))
	for i := range qs {
		qs[i] = query("host"+strconv.Itoa(i)+".example.org.", dns.TypeA)
		answers[i] = benchAnswer(b, qs[i].Msg)
	}
	i := 0
	next := resolver.Func(func(context.Context, *resolver.Query) (*dns.Msg, error) { return answers[i%len(qs)], nil })
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := New(next, Options{Size: names})
	for i = range names {
		if _, err := c.Resolve(ctx, qs[i]); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perEntry := float64(after.HeapAlloc-before.HeapAlloc) / names
	// Twice as many names as entries: each comes round after it was
	// evicted.
	i = names
	b.ResetTimer()
	for b.Loop() {
		q := qs[i%len(qs)]
		q.Trace = resolver.Trace{}
		if _, err := c.Resolve(ctx, q); err != nil || q.Trace.Cache != resolver.CacheMiss {
			b.Fatalf("not a miss: %v %v", q.Trace.Cache, err)
		}
		i++
	}
	b.ReportMetric(perEntry, "B/entry")
}
