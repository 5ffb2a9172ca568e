package querylog

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestDictForgetsFailedWrite checks that ids added by a transaction that
// failed are not used afterwards: they name no string, or another one.
func TestDictForgetsFailedWrite(t *testing.T) {
	l := openTest(t, Options{minBackoff: time.Millisecond, maxBackoff: time.Millisecond})
	ctx := context.Background()
	if _, err := l.wdb.ExecContext(ctx, boomTrigger); err != nil {
		t.Fatal(err)
	}
	l.Add(Entry{Time: t0, Device: "ghost", Category: "spooky", Rule: "boom"})
	if err := l.Flush(ctx); err == nil {
		t.Fatal("Flush of a failing batch: want an error")
	}
	if _, err := l.wdb.ExecContext(ctx, `DROP TRIGGER boom`); err != nil {
		t.Fatal(err)
	}
	// Another new string takes the id "ghost" had in the failed write.
	addAll(t, l, Entry{Time: t0, Device: "other", Name: "a.example"},
		Entry{Time: t0, Device: "ghost", Category: "spooky", Name: "b.example"})
	rows, _, err := l.Search(ctx, Filter{Device: "ghost"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Name != "b.example" || rows[0].Category != "spooky" {
		t.Errorf("Search(ghost) = %+v, want the one row b.example", rows)
	}
}

// TestMigrateV1 opens a log written by schema version 1 (text columns) and
// checks that it answers exactly as a log written by this version.
func TestMigrateV1(t *testing.T) {
	es := append(searchData(), statsData()...)
	ctx := context.Background()

	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, migrations()[:1]); err != nil {
		t.Fatal(err)
	}
	plain := &Log{}
	for _, e := range es {
		// What the version 1 writer stored.
		if _, err := db.Exec(`INSERT INTO queries (time, client, device, profile, name, qtype,
			proto, decision, category, rule, cache, upstream, rcode, latency_us)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Time.UnixMilli(), plain.clientText(e.Client), e.Device, e.Profile,
			normalName(e.Name), int64(e.Type), e.Proto, e.Decision, e.Category,
			e.Rule, e.Cache, e.Upstream, int64(e.Rcode), e.Latency.Microseconds()); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	old := openTest(t, Options{Path: path})
	var v int
	if err := old.rdb.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != len(migrations()) {
		t.Fatalf("user_version = %d, %v; want %d", v, err, len(migrations()))
	}
	// One batch, one segment: row ids as the migration's.
	fresh := openTest(t, Options{FlushEvery: time.Hour})
	addAll(t, fresh, es...)

	for _, f := range []Filter{{}, {Device: "tablet"}, {Profile: "adults"}, {Decision: "blocked"},
		{Category: "ads"}, {Device: "laptop", Decision: "blocked"}, {Device: "toaster"}} {
		got, _, err1 := old.Search(ctx, f)
		want, _, err2 := fresh.Search(ctx, f)
		if err1 != nil || err2 != nil || !slices.Equal(got, want) || len(want) == 0 && f.Device != "toaster" {
			t.Errorf("Search(%+v) after migration = %v, %v\nfresh log: %v, %v", f, got, err1, want, err2)
		}
	}
	from, to := t0.Add(-24*time.Hour), t0.Add(5*24*time.Hour)
	for _, by := range []string{"", "device", "profile", "category"} {
		got, err1 := old.Stats(ctx, from, to, Day, by)
		want, err2 := fresh.Stats(ctx, from, to, Day, by)
		if err1 != nil || err2 != nil || !slices.Equal(statString(got), statString(want)) || len(want) == 0 {
			t.Errorf("Stats(by %q) after migration = %q, %v\nfresh log: %q, %v", by, statString(got), err1, statString(want), err2)
		}
	}
	for _, blocked := range []bool{true, false} {
		got, err1 := old.Top(ctx, from, to, blocked, "", 10)
		want, err2 := fresh.Top(ctx, from, to, blocked, "", 10)
		if err1 != nil || err2 != nil || !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("Top(blocked %v) after migration = %v, %v\nfresh log: %v, %v", blocked, got, err1, want, err2)
		}
	}
	// The migrated log goes on taking rows.
	addAll(t, old, Entry{Time: t0, Device: "tablet", Decision: "blocked", Name: "new.example"})
	if rows, _, err := old.Search(ctx, Filter{Device: "tablet", Decision: "blocked", Limit: 1}); err != nil ||
		len(rows) != 1 || rows[0].Name != "new.example" {
		t.Errorf("new row after migration: %+v, %v", rows, err)
	}
}
