package metrics

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

func query(tb testing.TB, p resolver.Proto, tr resolver.Trace) *resolver.Query {
	tb.Helper()
	m := new(dns.Msg)
	m.SetQuestion("private.example.com.", dns.TypeA)
	return &resolver.Query{
		Msg:    m,
		Client: netip.MustParseAddr("192.0.2.77"),
		Proto:  p,
		Trace:  tr,
	}
}

func TestQuery(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)

	kidsHit := query(t, resolver.UDP, resolver.Trace{Profile: "kids", Decision: resolver.Allowed, Cache: resolver.CacheHit, Upstream: "quad9"})
	m.Query(kidsHit, dns.RcodeSuccess, 40*time.Microsecond)
	m.Query(kidsHit, dns.RcodeSuccess, 80*time.Microsecond)
	m.Query(query(t, resolver.DoH, resolver.Trace{Profile: "kids", Decision: resolver.Blocked, Category: "adult", Rule: "private.example.com", Source: "oisd"}),
		dns.RcodeNameError, time.Millisecond)
	// An allow exception carries a category, but is not counted under it.
	m.Query(query(t, resolver.TCP, resolver.Trace{Profile: "adults", Decision: resolver.Allowed, Category: "adult", Cache: resolver.CacheMiss}),
		dns.RcodeSuccess, 20*time.Millisecond)
	m.Query(query(t, resolver.DoT, resolver.Trace{Decision: resolver.Failed, Cache: resolver.CacheMiss}),
		dns.RcodeServerFailure, 2*time.Second)
	m.Query(query(t, resolver.UDP, resolver.Trace{Profile: "kids", Decision: resolver.Rewritten, Category: "safesearch"}),
		dns.RcodeSuccess, 30*time.Microsecond)
	m.Query(query(t, resolver.UDP, resolver.Trace{}), 9999, time.Millisecond)
	m.Query(nil, dns.RcodeSuccess, time.Millisecond) // ignored

	fams, body := scrape(t, serve(t, reg))

	for _, tc := range []struct {
		name   string
		metric string
		labels labels
		want   float64
	}{
		{"allowed cache hit", "haven_queries_total", labels{"proto", "udp", "decision", "allowed", "profile", "kids", "category", "", "cache", "hit"}, 2},
		{"blocked", "haven_queries_total", labels{"proto", "doh", "decision", "blocked", "profile", "kids", "category", "adult", "cache", "none"}, 1},
		{"allow exception", "haven_queries_total", labels{"proto", "tcp", "decision", "allowed", "profile", "adults", "category", "", "cache", "miss"}, 1},
		{"failed", "haven_queries_total", labels{"proto", "dot", "decision", "failed", "profile", "", "category", "", "cache", "miss"}, 1},
		{"rewritten", "haven_queries_total", labels{"proto", "udp", "decision", "rewritten", "profile", "kids", "category", "safesearch", "cache", "none"}, 1},
		{"no trace", "haven_queries_total", labels{"proto", "udp", "decision", "allowed", "profile", "", "category", "", "cache", "none"}, 1},
		{"duration udp allowed", "haven_query_duration_seconds", labels{"proto", "udp", "decision", "allowed"}, 3},
		{"duration dot failed", "haven_query_duration_seconds", labels{"proto", "dot", "decision", "failed"}, 1},
		{"NOERROR", "haven_responses_total", labels{"rcode", "NOERROR"}, 4},
		{"NXDOMAIN", "haven_responses_total", labels{"rcode", "NXDOMAIN"}, 1},
		{"SERVFAIL", "haven_responses_total", labels{"rcode", "SERVFAIL"}, 1},
		{"unknown rcode", "haven_responses_total", labels{"rcode", "other"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := value(t, fams, tc.metric, tc.labels); got != tc.want {
				t.Errorf("%s%v = %g, want %g", tc.metric, tc.labels, got, tc.want)
			}
		})
	}

	t.Run("no allowed series under a category", func(t *testing.T) {
		if _, ok := find(fams, "haven_queries_total", labels{"proto", "tcp", "decision", "allowed", "profile", "adults", "category", "adult", "cache", "miss"}); ok {
			t.Error("allow exception counted under its category")
		}
	})
	t.Run("buckets", func(t *testing.T) {
		udp := labels{"proto", "udp", "decision", "allowed"}
		for _, b := range []struct {
			le   float64
			want uint64
		}{{0.00005, 1}, {0.0001, 2}, {0.001, 3}, {5, 3}} {
			if got := bucket(t, fams, "haven_query_duration_seconds", udp, b.le); got != b.want {
				t.Errorf("udp allowed le=%g: %d, want %d", b.le, got, b.want)
			}
		}
		dot := labels{"proto", "dot", "decision", "failed"}
		if got := bucket(t, fams, "haven_query_duration_seconds", dot, 1); got != 0 {
			t.Errorf("dot failed le=1: %d, want 0", got)
		}
		if got := bucket(t, fams, "haven_query_duration_seconds", dot, 2.5); got != 1 {
			t.Errorf("dot failed le=2.5: %d, want 1", got)
		}
	})
	t.Run("no names or addresses in labels", func(t *testing.T) {
		for _, s := range []string{"example.com", "192.0.2.77", "quad9", "oisd"} {
			if strings.Contains(body, s) {
				t.Errorf("scrape contains %q", s)
			}
		}
	})
}

func TestRefused(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	for range 3 {
		m.Refused(ReasonRateLimit)
	}
	m.Refused(ReasonACL)

	fams, _ := scrape(t, serve(t, reg))
	for _, tc := range []struct {
		reason string
		want   float64
	}{{ReasonRateLimit, 3}, {ReasonACL, 1}} {
		t.Run(tc.reason, func(t *testing.T) {
			if got := value(t, fams, "haven_refused_total", labels{"reason", tc.reason}); got != tc.want {
				t.Errorf("haven_refused_total{reason=%q} = %g, want %g", tc.reason, got, tc.want)
			}
		})
	}
}

func TestNil(t *testing.T) {
	var m *Metrics
	m.Query(query(t, resolver.UDP, resolver.Trace{}), dns.RcodeSuccess, time.Millisecond)
	m.Refused(ReasonACL)
	if err := m.Watch(Sources{}); err != nil {
		t.Errorf("nil Watch: %v", err)
	}

	// Without a registry, recording works and nothing is exposed.
	m = New(nil)
	m.Query(query(t, resolver.UDP, resolver.Trace{}), dns.RcodeSuccess, time.Millisecond)
	m.Refused(ReasonACL)
	if err := m.Watch(Sources{}); err != nil {
		t.Errorf("Watch without registry: %v", err)
	}
}

// Each registry gets its own metrics: nothing is shared through globals.
func TestRegistriesIndependent(t *testing.T) {
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	a, _ := New(regA), New(regB)
	a.Refused(ReasonACL)

	famsB, _ := scrape(t, serve(t, regB))
	if _, ok := find(famsB, "haven_refused_total", labels{"reason", ReasonACL}); ok {
		t.Error("a query refused on one registry shows on another")
	}
	famsA, _ := scrape(t, serve(t, regA))
	if got := value(t, famsA, "haven_refused_total", labels{"reason", ReasonACL}); got != 1 {
		t.Errorf("haven_refused_total = %g, want 1", got)
	}
}

func TestQueryConcurrent(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	profiles := []string{"a", "b", "c", "d"}
	const perProfile = 200
	var wg sync.WaitGroup
	for _, p := range profiles {
		for range 4 {
			wg.Go(func() {
				q := query(t, resolver.UDP, resolver.Trace{Profile: p})
				for range perProfile / 4 {
					m.Query(q, dns.RcodeSuccess, time.Millisecond)
				}
			})
		}
	}
	wg.Wait()

	fams, _ := scrape(t, serve(t, reg))
	for _, p := range profiles {
		ls := labels{"proto", "udp", "decision", "allowed", "profile", p, "category", "", "cache", "none"}
		if got := value(t, fams, "haven_queries_total", ls); got != perProfile {
			t.Errorf("profile %s: %g queries, want %d", p, got, perProfile)
		}
	}
}

func TestQueryAllocs(t *testing.T) {
	m := New(prometheus.NewRegistry())
	q := query(t, resolver.DoH, resolver.Trace{Profile: "kids", Decision: resolver.Blocked, Category: "adult"})
	m.Query(q, dns.RcodeNameError, time.Millisecond) // creates the series
	if n := testing.AllocsPerRun(100, func() { m.Query(q, dns.RcodeNameError, time.Millisecond) }); n != 0 {
		t.Errorf("Query allocates %g times per call, want 0", n)
	}
	m.Refused(ReasonRateLimit)
	if n := testing.AllocsPerRun(100, func() { m.Refused(ReasonRateLimit) }); n != 0 {
		t.Errorf("Refused allocates %g times per call, want 0", n)
	}
}

func TestChildrenCap(t *testing.T) {
	var c children[int, int]
	made := 0
	create := func(k int) int { made++; return k * 2 }
	for k := range maxChildren + 10 {
		if v := c.store(k, create); v != k*2 {
			t.Fatalf("store(%d) = %d, want %d", k, v, k*2)
		}
	}
	if n := len(*c.m.Load()); n != maxChildren {
		t.Errorf("cache holds %d children, want the cap %d", n, maxChildren)
	}
	if _, ok := c.load(maxChildren + 1); ok {
		t.Error("child past the cap was cached")
	}
	before := made
	if v := c.store(3, create); v != 6 || made != before {
		t.Errorf("store of a cached key: %d, made %d new; want 6, none", v, made-before)
	}
}

func BenchmarkQuery(b *testing.B) {
	m := New(prometheus.NewRegistry())
	q := query(b, resolver.UDP, resolver.Trace{Profile: "kids", Decision: resolver.Blocked, Category: "adult"})
	m.Query(q, dns.RcodeNameError, time.Millisecond)
	b.ReportAllocs()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			m.Query(q, dns.RcodeNameError, 300*time.Microsecond)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Query(q, dns.RcodeNameError, 300*time.Microsecond)
			}
		})
	})
}

func BenchmarkRefused(b *testing.B) {
	m := New(prometheus.NewRegistry())
	b.ReportAllocs()
	for b.Loop() {
		m.Refused(ReasonRateLimit)
	}
}
