package metrics

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// state is what the hooks report; scrapes run on the HTTP server's
// goroutines, so it is guarded.
type state struct {
	mu        sync.Mutex
	hits      uint64
	entries   int
	upstreams []Upstream
	lists     []List
	written   uint64
	logOK     bool
}

func (s *state) sources() Sources {
	return Sources{
		Cache: func() (uint64, uint64, uint64, uint64, int) {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.hits, 7, 2, 1, s.entries
		},
		Upstreams: func() []Upstream {
			s.mu.Lock()
			defer s.mu.Unlock()
			return append([]Upstream(nil), s.upstreams...)
		},
		Lists: func() []List {
			s.mu.Lock()
			defer s.mu.Unlock()
			return append([]List(nil), s.lists...)
		},
		Log: func() (uint64, uint64, bool) {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.written, 3, s.logOK
		},
	}
}

func TestWatch(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	loaded := time.Unix(1_700_000_000, 500_000_000)
	st := &state{
		hits:    10,
		entries: 4,
		upstreams: []Upstream{
			{Name: "quad9", Healthy: true, Queries: 100, Errors: 2, LastRTT: 15 * time.Millisecond},
			{Name: "cloudflare", Healthy: false, Queries: 5, Errors: 5},
			{Name: "quad9", Healthy: false, Queries: 999}, // repeated name: first wins
		},
		lists: []List{
			{Name: "oisd", Category: "ads", Rules: 1000, LastSuccess: loaded, Healthy: true},
			{Name: "porn", Category: "adult", Rules: 0, Healthy: false}, // never loaded
		},
		written: 50,
		logOK:   true,
	}
	if err := m.Watch(st.sources()); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	url := serve(t, reg)

	type want struct {
		metric string
		labels labels
		value  float64
	}
	check := func(t *testing.T, wants []want) {
		t.Helper()
		fams, _ := scrape(t, url)
		for _, w := range wants {
			if got := value(t, fams, w.metric, w.labels); got != w.value {
				t.Errorf("%s%v = %g, want %g", w.metric, w.labels, got, w.value)
			}
		}
	}

	t.Run("first scrape", func(t *testing.T) {
		check(t, []want{
			{"haven_cache_hits_total", nil, 10},
			{"haven_cache_misses_total", nil, 7},
			{"haven_cache_stale_total", nil, 2},
			{"haven_cache_evictions_total", nil, 1},
			{"haven_cache_entries", nil, 4},
			{"haven_upstream_queries_total", labels{"upstream", "quad9"}, 100},
			{"haven_upstream_errors_total", labels{"upstream", "quad9"}, 2},
			{"haven_upstream_healthy", labels{"upstream", "quad9"}, 1},
			{"haven_upstream_rtt_seconds", labels{"upstream", "quad9"}, 0.015},
			{"haven_upstream_healthy", labels{"upstream", "cloudflare"}, 0},
			{"haven_upstream_errors_total", labels{"upstream", "cloudflare"}, 5},
			{"haven_list_rules", labels{"list", "oisd", "category", "ads"}, 1000},
			{"haven_list_last_success_timestamp_seconds", labels{"list", "oisd", "category", "ads"}, 1_700_000_000.5},
			{"haven_list_healthy", labels{"list", "oisd", "category", "ads"}, 1},
			{"haven_list_last_success_timestamp_seconds", labels{"list", "porn", "category", "adult"}, 0},
			{"haven_list_healthy", labels{"list", "porn", "category", "adult"}, 0},
			{"haven_querylog_written_total", nil, 50},
			{"haven_querylog_dropped_total", nil, 3},
			{"haven_querylog_healthy", nil, 1},
		})
	})

	st.mu.Lock()
	st.hits, st.entries, st.written, st.logOK = 25, 9, 80, false
	st.upstreams[1].Healthy = true
	st.lists[1] = List{Name: "porn", Category: "adult", Rules: 300, LastSuccess: loaded.Add(time.Hour), Healthy: true}
	st.mu.Unlock()

	t.Run("hooks read at scrape", func(t *testing.T) {
		check(t, []want{
			{"haven_cache_hits_total", nil, 25},
			{"haven_cache_entries", nil, 9},
			{"haven_upstream_healthy", labels{"upstream", "cloudflare"}, 1},
			{"haven_list_rules", labels{"list", "porn", "category", "adult"}, 300},
			{"haven_list_last_success_timestamp_seconds", labels{"list", "porn", "category", "adult"}, 1_700_003_600.5},
			{"haven_list_healthy", labels{"list", "porn", "category", "adult"}, 1},
			{"haven_querylog_written_total", nil, 80},
			{"haven_querylog_healthy", nil, 0},
		})
	})

	t.Run("repeated names do not fail the gather", func(t *testing.T) {
		if _, err := reg.Gather(); err != nil {
			t.Errorf("Gather: %v", err)
		}
	})

	t.Run("watch twice", func(t *testing.T) {
		if err := m.Watch(st.sources()); err == nil {
			t.Error("second Watch on one registry: no error")
		}
	})
}

func TestWatchNilHooks(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	if err := m.Watch(Sources{Log: func() (uint64, uint64, bool) { return 1, 0, true }}); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	fams, _ := scrape(t, serve(t, reg))
	if got := value(t, fams, "haven_querylog_written_total", nil); got != 1 {
		t.Errorf("haven_querylog_written_total = %g, want 1", got)
	}
	for _, name := range []string{"haven_cache_hits_total", "haven_upstream_healthy", "haven_list_rules"} {
		if _, ok := fams[name]; ok {
			t.Errorf("%s exposed without its hook", name)
		}
	}
}
