package querylog

import (
	"context"
	"database/sql"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
)

func TestAnonymize(t *testing.T) {
	tests := []struct{ in, anon, plain string }{
		{"192.168.1.77", "192.168.1.0", "192.168.1.77"},
		{"10.0.0.1", "10.0.0.0", "10.0.0.1"},
		{"2001:db8:abcd:1234:5678::1", "2001:db8:abcd::", "2001:db8:abcd:1234:5678::1"},
		{"::ffff:10.1.2.3", "10.1.2.0", "10.1.2.3"}, // IPv4-mapped counts as IPv4
		{"fe80::1%eth0", "fe80::", "fe80::1%eth0"},
		{"", "", ""}, // no address
	}
	for _, anon := range []bool{true, false} {
		l := openTest(t, Options{Anonymize: anon})
		var es []Entry
		for i, tt := range tests {
			var a netip.Addr
			if tt.in != "" {
				a = netip.MustParseAddr(tt.in)
			}
			es = append(es, Entry{Time: t0.Add(time.Duration(i) * time.Minute), Client: a})
		}
		addAll(t, l, es...)

		// What is on disk, not just what Search makes of it.
		var stored []string
		for _, r := range storedRows(t, l) {
			stored = append(stored, addrText(r.client))
		}
		var want []string
		for _, tt := range tests {
			if anon {
				want = append(want, tt.anon)
			} else {
				want = append(want, tt.plain)
			}
		}
		if !slices.Equal(stored, want) {
			t.Errorf("Anonymize=%v: stored %q, want %q", anon, stored, want)
		}

		// A full address finds the rows of its anonymised form.
		rows, _, err := l.Search(context.Background(), Filter{Client: "192.168.1.200"})
		if err != nil {
			t.Fatal(err)
		}
		if wantN := map[bool]int{true: 1, false: 0}[anon]; len(rows) != wantN {
			t.Errorf("Anonymize=%v: Search(192.168.1.200) = %d rows, want %d", anon, len(rows), wantN)
		}
		if anon && len(rows) == 1 && rows[0].Client != netip.MustParseAddr("192.168.1.0") {
			t.Errorf("Search row client = %v", rows[0].Client)
		}
	}
}

func TestPrune(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := dnstest.NewClock(now)
	es := []Entry{
		{Time: now.Add(-48 * time.Hour), Name: "old.example"},
		{Time: now.Add(-25 * time.Hour), Name: "old.example"},
		{Time: now.Add(-23 * time.Hour), Name: "new.example"},
		{Time: now, Name: "new.example"},
	}
	tests := []struct {
		name      string
		retention time.Duration
		pruned    int64
		left      int
	}{
		{"one day", 24 * time.Hour, 2, 2},
		{"forever", KeepForever, 0, 4},
		{"default 30 days", 0, 0, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := openTest(t, Options{Retention: tt.retention, Now: clock.Now})
			addAll(t, l, es...)
			n, err := l.Prune(context.Background())
			if err != nil || n != tt.pruned {
				t.Fatalf("Prune = %d, %v; want %d", n, err, tt.pruned)
			}
			rows, _, _ := l.Search(context.Background(), Filter{})
			if len(rows) != tt.left {
				t.Fatalf("%d rows left, want %d", len(rows), tt.left)
			}
			for _, r := range rows {
				if tt.pruned > 0 && r.Name != "new.example" {
					t.Errorf("row from %v survived", r.Time)
				}
			}
		})
	}
}

func TestPruneManyChunks(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	// Segments of 10 rows: more than two DELETE statements' worth, and a
	// last segment straddling the cutoff.
	const batch = 10
	l := openTest(t, Options{Buffer: 3 * deleteSegments * batch, BatchSize: batch, Retention: time.Hour,
		Now: func() time.Time { return now }})
	es := make([]Entry, 2*deleteSegments*batch+7)
	for i := range es {
		// A second apart: a row each, not one collapsed row.
		es[i] = Entry{Time: now.Add(-2*time.Hour - time.Duration(i)*time.Second), Name: "old.example"}
	}
	addAll(t, l, append(es, Entry{Time: now, Name: "new.example"})...)
	if n, err := l.Prune(context.Background()); err != nil || n != int64(len(es)) {
		t.Errorf("Prune = %d, %v; want %d", n, err, len(es))
	}
	if rows := storedRows(t, l); len(rows) != 1 || string(rows[0].name) != "new.example" {
		t.Errorf("left %d rows, want the new one", len(rows))
	}
}

func TestDeleteDevice(t *testing.T) {
	l := openTest(t, Options{FlushEvery: time.Hour, BatchSize: 1000})
	for i, dev := range []string{"tablet", "laptop", "tablet", "phone", "tablet", "laptop"} {
		l.Add(Entry{Time: t0.Add(time.Duration(i) * time.Minute), Device: dev})
	}
	// Still queued: DeleteDevice must reach them too.
	n, err := l.DeleteDevice(context.Background(), "tablet")
	if err != nil || n != 3 {
		t.Fatalf("DeleteDevice = %d, %v; want 3", n, err)
	}
	rows, _, _ := l.Search(context.Background(), Filter{})
	var devs []string
	for _, r := range rows {
		devs = append(devs, r.Device)
	}
	if want := []string{"laptop", "phone", "laptop"}; !slices.Equal(devs, want) {
		t.Errorf("left %q, want %q", devs, want)
	}
	if _, err := l.DeleteDevice(context.Background(), ""); err == nil {
		t.Error("DeleteDevice(\"\"): want error")
	}
	if n, err := l.DeleteDevice(context.Background(), "toaster"); err != nil || n != 0 {
		t.Errorf("DeleteDevice(unknown) = %d, %v", n, err)
	}
}

func TestMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	version := func() int {
		var v int
		if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	steps := migrations()
	if err := migrate(ctx, db, steps); err != nil || version() != len(steps) {
		t.Fatalf("migrate from empty: %v, version %d", err, version())
	}
	if _, err := db.Exec(`INSERT INTO segments (time_min, time_max, rows, queries, summary, data)
		VALUES (1, 1, 0, 0, x'01', x'01')`); err != nil {
		t.Fatal(err)
	}
	// A later version adds a column; the existing row survives.
	next := append(slices.Clone(steps), step{sql: `ALTER TABLE segments ADD COLUMN ecs TEXT NOT NULL DEFAULT ''`})
	if err := migrate(ctx, db, next); err != nil || version() != len(next) {
		t.Fatalf("migrate up: %v, version %d", err, version())
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM segments WHERE ecs = ''").Scan(&n); err != nil || n != 1 {
		t.Errorf("after migration: %d rows, %v", n, err)
	}
	// Running again is a no-op.
	if err := migrate(ctx, db, next); err != nil {
		t.Errorf("migrate again: %v", err)
	}
	// This program's schema is older than the file's: refuse, don't corrupt.
	db.Close()
	if _, err := Open(Options{Path: path}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema = %v, want a 'newer' error", err)
	}
}

func TestPathNeedsEscaping(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c%d")
	l := openTest(t, Options{Path: dir + ".db"})
	addAll(t, l, Entry{Time: t0})
	if l.Written() != 1 {
		t.Errorf("Written = %d", l.Written())
	}
	if _, err := os.Stat(dir + ".db"); err != nil {
		t.Errorf("database not at the literal path: %v", err)
	}
}
