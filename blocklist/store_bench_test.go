package blocklist

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// largeGzipList returns the 730,225-name gzip list of the shared test data.
func largeGzipList(t testing.TB) []byte {
	t.Helper()
	dir := os.Getenv("HAVEN_TESTDATA")
	if dir == "" {
		t.Skip("HAVEN_TESTDATA not set: full-data tests not run")
	}
	data, err := os.ReadFile(filepath.Join(dir, "blocklists", "large", "blocklistproject_all-nl_concat_ee3bdbad.txt.gz"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestLargeGzipList downloads the large list as a .gz body, restarts on the
// cached copy and finds a rule's line.
func TestLargeGzipList(t *testing.T) {
	ls := newListServer(t, "")
	ls.body = largeGzipList(t)
	dir := t.TempDir()
	ctx := context.Background()
	src := []Source{{Category: "all", URL: ls.url() + ".gz", Name: "all"}}
	s := newTestStore(t, dir, newTestClock(), nil)
	if err := s.SetSources(ctx, src); err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	n := s.Matcher().Len()
	if n < 700_000 {
		t.Fatalf("Len() = %d, want about 730,000", n)
	}
	s2 := newTestStore(t, dir, newTestClock(), nil)
	if err := s2.SetSources(ctx, src); err != nil {
		t.Fatal(err)
	}
	s2.Load(ctx)
	if got := s2.Matcher().Len(); got != n {
		t.Errorf("after restart Len() = %d, want %d", got, n)
	}
	m := s2.Matcher()
	v := m.Lookup("0.01.2.13.3.sydneypropertyinvestors.com", m.Mask("all"))
	if !v.Blocked {
		t.Fatal("phishing entry not blocked")
	}
	if line := s2.Line(v.Rule); line <= 0 {
		t.Errorf("Line(%+v) = %d", v.Rule, line)
	}
}

// measureHeap runs f and reports the live heap after it and the highest
// heap seen while it ran: heap object bytes, live and not yet swept, as
// HeapAlloc counts them. It is sampled every 0.2 ms through runtime/metrics,
// which does not stop the world as ReadMemStats does, so the peak is a
// close lower bound of the true one (BenchmarkLoadRSS reads the exact
// peak of the resident set instead).
func measureHeap(b *testing.B, f func()) {
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	})
	f()
	close(stop)
	wg.Wait()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "live-MiB")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-MiB")
}

// BenchmarkLoadLarge measures a startup from the disk cache holding the
// large list (parse + build), with its memory.
func BenchmarkLoadLarge(b *testing.B) {
	ls := newListServer(b, "")
	ls.body = largeGzipList(b)
	dir := b.TempDir()
	ctx := context.Background()
	src := []Source{{Category: "all", URL: ls.url() + ".gz"}}
	opt := func(o *StoreOptions) { o.Logger = nil }
	warm := newTestStore(b, dir, newTestClock(), opt)
	if err := warm.SetSources(ctx, src); err != nil {
		b.Fatal(err)
	}
	if err := warm.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	warm = nil
	runtime.GC()
	var s *Store
	measureHeap(b, func() {
		for b.Loop() {
			// The Store of the last round is garbage now, but a startup
			// has none: collect it outside the measured time.
			b.StopTimer()
			s = nil
			runtime.GC()
			b.StartTimer()
			s = newTestStore(b, dir, newTestClock(), opt)
			if err := s.SetSources(ctx, src); err != nil {
				b.Fatal(err)
			}
			s.Load(ctx)
		}
	})
	runtime.KeepAlive(s)
}

// BenchmarkRefreshLarge measures a refresh that downloads a changed large
// list every time (download, check, parse, build, swap), with its memory.
func BenchmarkRefreshLarge(b *testing.B) {
	for _, disk := range []bool{true, false} {
		b.Run(map[bool]string{true: "disk", false: "memory"}[disk], func(b *testing.B) {
			ls := newListServer(b, "")
			base := largeGzipList(b)
			dir := ""
			if disk {
				dir = b.TempDir()
			}
			ctx := context.Background()
			s := newTestStore(b, dir, newTestClock(), func(o *StoreOptions) { o.Logger = nil })
			if err := s.SetSources(ctx, []Source{{Category: "all", URL: ls.url() + ".gz"}}); err != nil {
				b.Fatal(err)
			}
			i := 0
			measureHeap(b, func() {
				for b.Loop() {
					// Refreshes are hours apart: the garbage of the last
					// one (its old Matcher, its build) is long collected
					// when the next comes.
					b.StopTimer()
					runtime.GC()
					b.StartTimer()
					// A second gzip member makes every version differ.
					i++
					extra := gzipBytes(b, fmt.Sprintf("bench%d.example.com\n", i))
					ls.set(func(ls *listServer) { ls.body = append(base[:len(base):len(base)], extra...) })
					if err := s.Refresh(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
			if !storeBlocks(s, fmt.Sprintf("bench%d.example.com", i), "all") {
				b.Fatal("last version not in use")
			}
			runtime.KeepAlive(s)
		})
	}
}

// BenchmarkRefreshNotModified is the common case: every source answers 304.
func BenchmarkRefreshNotModified(b *testing.B) {
	var body strings.Builder
	for i := range 10_000 {
		fmt.Fprintf(&body, "host%d.example.com\n", i)
	}
	ls := newListServer(b, body.String())
	ls.etag = `"same"`
	ctx := context.Background()
	s := newTestStore(b, b.TempDir(), newTestClock(), func(o *StoreOptions) { o.Logger = nil })
	if err := s.SetSources(ctx, []Source{{Category: "ads", URL: ls.url()}}); err != nil {
		b.Fatal(err)
	}
	if err := s.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := s.Refresh(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
