package querylog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFlood adds far faster than SQLite can write: Add must never wait,
// and every entry must end up written or counted as dropped.
func TestFlood(t *testing.T) {
	l := openTest(t, Options{Buffer: 1000, BatchSize: 500})
	const n = 200_000
	e := Entry{Time: t0, Name: "flood.example", Device: "tablet", Decision: "allowed"}
	var accepted, refused uint64
	for range n {
		if l.Add(e) {
			accepted++
		} else {
			refused++
		}
	}
	flush(t, l)
	if got := l.Dropped() + l.Written(); got != n {
		t.Errorf("Dropped %d + Written %d = %d, want %d", l.Dropped(), l.Written(), got, n)
	}
	if l.Dropped() == 0 {
		t.Error("nothing dropped: the flood did not outrun the disk")
	}
	if l.Written() != accepted || l.Dropped() != refused {
		t.Errorf("Written %d / Dropped %d, want %d / %d", l.Written(), l.Dropped(), accepted, refused)
	}
	// One query repeated: collapsed into a few rows, whose counts add up.
	var rows, queries uint64
	if err := l.rdb.QueryRow("SELECT SUM(rows), SUM(queries) FROM segments").Scan(&rows, &queries); err != nil ||
		queries != l.Written() || rows != l.WrittenRows() || rows >= queries {
		t.Errorf("%d rows holding %d queries in the table (%v); Written() = %d in %d rows",
			rows, queries, err, l.Written(), l.WrittenRows())
	}
}

// TestConcurrentAdd runs Add from many goroutines with searches going on
// (meaningful under -race).
func TestConcurrentAdd(t *testing.T) {
	l := openTest(t, Options{Buffer: 100, BatchSize: 10})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				l.Add(Entry{Time: t0.Add(time.Duration(i) * time.Second), Device: string(rune('a' + g))})
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if _, _, err := l.Search(context.Background(), Filter{Device: "a"}); err != nil {
				t.Errorf("Search during writes: %v", err)
			}
		}
	})
	wg.Wait()
	flush(t, l)
	if got := l.Dropped() + l.Written(); got != 8*500 {
		t.Errorf("Dropped+Written = %d, want %d", got, 8*500)
	}
}

// lockedBuffer is a concurrency-safe log sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// mountTmpfs mounts a tmpfs of size (e.g. "1m") on a fresh directory,
// skipping the test where that is not possible.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("degraded-disk test needs root to mount a tiny tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("degraded-disk test skipped: cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes to path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !strings.Contains(err.Error(), "no space") {
				t.Fatalf("filling the disk: %v", err)
			}
			return
		}
	}
}

// TestDegradedDisk runs the log on a full file system: writes fail, the
// log says so once, Add still never waits, and it all recovers when space
// comes back.
func TestDegradedDisk(t *testing.T) {
	dir := mountTmpfs(t, "1m")
	logs := &lockedBuffer{}
	l := openTest(t, Options{
		Path:       filepath.Join(dir, "queries.db"),
		Buffer:     100,
		BatchSize:  50,
		FlushEvery: time.Hour, // only Flush and full batches write
		Logger:     slog.New(slog.NewTextHandler(logs, nil)),
		minBackoff: 10 * time.Millisecond,
		maxBackoff: 40 * time.Millisecond,
	})
	addAll(t, l, Entry{Time: t0, Name: "before.example"})

	filler := filepath.Join(dir, "filler")
	fill(t, filler)
	// Rows larger than whatever free pages the WAL still has.
	big := Entry{Time: t0, Rule: strings.Repeat("r", 2048)}
	for i := range 50 {
		big.Name = fmt.Sprintf("big%d.example", i) // 50 rows, not one collapsed
		l.Add(big)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Flush(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush on a full disk = %v, want a degraded error", err)
	}
	ok, lastErr := l.Healthy()
	if ok || lastErr == "" {
		t.Fatalf("Healthy() on a full disk = %v, %q", ok, lastErr)
	}
	t.Logf("full disk: %s", lastErr)
	if l.Dropped() < 50 {
		t.Errorf("Dropped() = %d, want at least the failed batch of 50", l.Dropped())
	}

	// Add keeps returning at once: the queue fills while the writer backs
	// off, and the rest is refused.
	added := uint64(51)
	var refused int
	for range 10_000 {
		added++
		if !l.Add(Entry{Time: t0, Name: "during.example"}) {
			refused++
		}
	}
	if refused == 0 {
		t.Error("no Add refused while the writer was backing off")
	}

	// The queue drains into failed writes.
	if err := l.Flush(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Flush on a full disk = %v, want a degraded error", err)
	}

	// Space comes back; so does the log.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	added++
	if !l.Add(Entry{Time: t0, Name: "after.example"}) {
		t.Fatal("Add refused with an empty queue")
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatalf("Flush after freeing space: %v", err)
	}
	if ok, _ := l.Healthy(); !ok {
		t.Error("not healthy after a successful write")
	}
	if got := l.Dropped() + l.Written(); got != added {
		t.Errorf("Dropped+Written = %d, want %d", got, added)
	}
	rows, _, err := l.Search(ctx, Filter{Name: "after.example"})
	if err != nil || len(rows) != 1 {
		t.Errorf("Search(after) = %d rows, %v", len(rows), err)
	}
	out := logs.String()
	if n := strings.Count(out, "query log degraded"); n != 1 {
		t.Errorf("degraded logged %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "query log recovered"); n != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", n, out)
	}
}
