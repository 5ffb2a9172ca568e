package querylog

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// collapseBase is the entry the cases of TestCollapse vary.
func collapseBase() Entry {
	return Entry{
		Time: t0, Client: netip.MustParseAddr("192.168.1.23"), Device: "tablet",
		Profile: "kids", Name: "ads.example.com", Type: 1, Proto: "udp",
		Decision: "blocked", Category: "ads", Rule: "||ads.example.com^", Cache: "none",
		Upstream: "", Rcode: 3, Latency: 40 * time.Microsecond,
	}
}

// TestCollapse adds an entry and a variant of it in one batch: identical
// queries (but for Time and Latency) close in time share a row, any other
// difference makes two.
func TestCollapse(t *testing.T) {
	tests := []struct {
		name      string
		anonymize bool
		change    func(e *Entry)
		rows      int
	}{
		{"identical", false, func(e *Entry) {}, 1},
		{"later", false, func(e *Entry) { e.Time = e.Time.Add(999 * time.Millisecond) }, 1},
		{"earlier", false, func(e *Entry) { e.Time = e.Time.Add(-999 * time.Millisecond) }, 1},
		{"slower", false, func(e *Entry) { e.Latency = 3 * time.Millisecond }, 1},
		{"name case and dot", false, func(e *Entry) { e.Name = "ADS.example.com." }, 1},
		{"IPv4-mapped client", false, func(e *Entry) { e.Client = netip.MustParseAddr("::ffff:192.168.1.23") }, 1},
		{"same /24, anonymised", true, func(e *Entry) { e.Client = netip.MustParseAddr("192.168.1.99") }, 1},
		{"window apart", false, func(e *Entry) { e.Time = e.Time.Add(time.Second) }, 2},
		{"window apart, before", false, func(e *Entry) { e.Time = e.Time.Add(-time.Second) }, 2},
		{"client", false, func(e *Entry) { e.Client = netip.MustParseAddr("192.168.1.99") }, 2},
		{"other /24, anonymised", true, func(e *Entry) { e.Client = netip.MustParseAddr("192.168.2.23") }, 2},
		{"no client", false, func(e *Entry) { e.Client = netip.Addr{} }, 2},
		{"device", false, func(e *Entry) { e.Device = "laptop" }, 2},
		{"profile", false, func(e *Entry) { e.Profile = "adults" }, 2},
		{"name", false, func(e *Entry) { e.Name = "ads.example.org" }, 2},
		{"type", false, func(e *Entry) { e.Type = 28 }, 2},
		{"proto", false, func(e *Entry) { e.Proto = "doh" }, 2},
		{"decision", false, func(e *Entry) { e.Decision = "allowed" }, 2},
		{"category", false, func(e *Entry) { e.Category = "tracking" }, 2},
		{"rule", false, func(e *Entry) { e.Rule = "ads.example.com" }, 2},
		{"cache", false, func(e *Entry) { e.Cache = "hit" }, 2},
		{"upstream", false, func(e *Entry) { e.Upstream = "9.9.9.9:53" }, 2},
		{"rcode", false, func(e *Entry) { e.Rcode = 0 }, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Only Flush writes: both entries are in one batch.
			l := openTest(t, Options{FlushEvery: time.Hour, Anonymize: tt.anonymize})
			a, b := collapseBase(), collapseBase()
			tt.change(&b)
			addAll(t, l, a, b)
			rows, _, err := l.Search(context.Background(), Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != tt.rows || l.WrittenRows() != uint64(tt.rows) || l.Written() != 2 {
				t.Fatalf("%d rows (WrittenRows %d, Written %d), want %d rows of 2 queries",
					len(rows), l.WrittenRows(), l.Written(), tt.rows)
			}
			if tt.rows == 2 {
				if rows[0].Count != 1 || rows[1].Count != 1 {
					t.Errorf("counts %d, %d; want 1, 1", rows[0].Count, rows[1].Count)
				}
				return
			}
			r := rows[0]
			first := a.Time
			if b.Time.Before(first) {
				first = b.Time
			}
			if r.Count != 2 || !r.Time.Equal(first) || r.Latency != max(a.Latency, b.Latency) {
				t.Errorf("row: count %d, time %v, latency %v; want 2, %v (the earliest), %v (the largest)",
					r.Count, r.Time, r.Latency, first, max(a.Latency, b.Latency))
			}
		})
	}
}

// TestCollapseOff checks that NoCollapse writes every query as a row.
func TestCollapseOff(t *testing.T) {
	l := openTest(t, Options{FlushEvery: time.Hour, Collapse: NoCollapse})
	e := collapseBase()
	addAll(t, l, e, e, e)
	rows, _, err := l.Search(context.Background(), Filter{})
	if err != nil || len(rows) != 3 || rows[0].Count != 1 {
		t.Errorf("Search = %+v, %v; want 3 rows of 1", rows, err)
	}
}

// TestCollapseWindowAnchor checks that a row's window is measured from its
// first query, so a steady stream of one query makes a row per window,
// not one row forever.
func TestCollapseWindowAnchor(t *testing.T) {
	l := openTest(t, Options{FlushEvery: time.Hour, Collapse: time.Second})
	var es []Entry
	for i := range 25 { // 2.5 s, every 100 ms
		e := collapseBase()
		e.Time = t0.Add(time.Duration(i) * 100 * time.Millisecond)
		es = append(es, e)
	}
	addAll(t, l, es...)
	rows, _, err := l.Search(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var counts []int
	for _, r := range slices.Backward(rows) {
		counts = append(counts, r.Count)
	}
	if want := []int{10, 10, 5}; !slices.Equal(counts, want) {
		t.Errorf("counts oldest first %v, want %v", counts, want)
	}
}

// repeatsData is five minutes of queries with many repeats: three names
// asked again and again by two devices, one of them blocked.
func repeatsData() []Entry {
	var es []Entry
	for i := range 3000 {
		k := i * i % 5
		e := Entry{
			Time:     t0.Add(time.Duration(i) * 100 * time.Millisecond),
			Device:   []string{"tablet", "laptop"}[i%3/2],
			Profile:  "kids",
			Name:     fmt.Sprintf("n%d.example", k),
			Decision: "allowed",
			Cache:    "hit",
		}
		if k >= 3 {
			e.Decision, e.Category = "blocked", "ads"
		}
		es = append(es, e)
	}
	return es
}

// TestCollapseTotals checks that Stats and Top count queries, not rows.
func TestCollapseTotals(t *testing.T) {
	es := repeatsData()
	l := openTest(t, Options{Buffer: len(es), BatchSize: 50})
	addAll(t, l, es...)
	if l.Written() != uint64(len(es)) || l.WrittenRows()*2 > l.Written() {
		t.Fatalf("Written %d in %d rows: want %d queries, collapsed at least 2:1", l.Written(), l.WrittenRows(), len(es))
	}
	ctx := context.Background()

	var total, blocked int
	top := map[bool]map[string]int{true: {}, false: {}}
	for _, e := range es {
		total++
		isBlocked := e.Decision == "blocked"
		if isBlocked {
			blocked++
		}
		top[isBlocked][e.Name]++
	}
	stats, err := l.Stats(ctx, t0, t0.Add(24*time.Hour), Hour, "device")
	if err != nil {
		t.Fatal(err)
	}
	var gotTotal, gotBlocked int
	for _, s := range stats {
		gotTotal += s.Total
		gotBlocked += s.Blocked
	}
	if gotTotal != total || gotBlocked != blocked {
		t.Errorf("Stats: %d queries, %d blocked; want %d, %d", gotTotal, gotBlocked, total, blocked)
	}
	for _, isBlocked := range []bool{true, false} {
		counts, err := l.Top(ctx, t0, t0.Add(24*time.Hour), isBlocked, "", MaxLimit)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, c := range counts {
			got[c.Name] = c.N
		}
		if fmt.Sprint(got) != fmt.Sprint(top[isBlocked]) {
			t.Errorf("Top(blocked %v) = %v, want %v", isBlocked, got, top[isBlocked])
		}
	}
	var rows, sum int
	for f := (Filter{Limit: MaxLimit}); ; {
		page, next, err := l.Search(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			rows++
			sum += r.Count
		}
		if next == 0 {
			break
		}
		f.Before = next
	}
	if uint64(rows) != l.WrittenRows() || sum != len(es) {
		t.Errorf("Search: %d rows of %d queries; want %d rows of %d", rows, sum, l.WrittenRows(), len(es))
	}
}

// TestCollapsedDeletes checks that Prune and DeleteDevice report queries,
// not rows, and that a failed batch drops every query it held.
func TestCollapsedDeletes(t *testing.T) {
	now := t0.Add(48 * time.Hour)
	l := openTest(t, Options{FlushEvery: time.Hour, Retention: 24 * time.Hour, Now: func() time.Time { return now },
		minBackoff: time.Millisecond, maxBackoff: time.Millisecond})
	old := Entry{Time: t0, Device: "laptop", Name: "old.example"}
	tablet := Entry{Time: now, Device: "tablet", Name: "a.example"}
	addAll(t, l, old, old, old, tablet, tablet, Entry{Time: now, Device: "laptop"})
	ctx := context.Background()
	if n, err := l.Prune(ctx); n != 3 || err != nil {
		t.Errorf("Prune = %d, %v; want the 3 queries of one row", n, err)
	}
	if n, err := l.DeleteDevice(ctx, "tablet"); n != 2 || err != nil {
		t.Errorf("DeleteDevice = %d, %v; want the 2 queries of one row", n, err)
	}
	if rows, _, _ := l.Search(ctx, Filter{}); len(rows) != 1 || rows[0].Device != "laptop" {
		t.Errorf("left %+v, want the one new laptop row", rows)
	}

	if _, err := l.wdb.ExecContext(ctx, boomTrigger); err != nil {
		t.Fatal(err)
	}
	dropped := l.Dropped()
	boom := Entry{Time: now, Rule: "boom"}
	for range 4 {
		l.Add(boom)
	}
	if err := l.Flush(ctx); err == nil {
		t.Fatal("Flush of a failing batch: want an error")
	}
	if got := l.Dropped() - dropped; got != 4 {
		t.Errorf("a failed row of 4 queries dropped %d", got)
	}
}

// TestMigrateV2 opens a log written by schema version 2: its rows count
// one query each, and it goes on taking collapsed rows.
func TestMigrateV2(t *testing.T) {
	es := append(searchData(), statsData()...)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, migrations()[:2]); err != nil {
		t.Fatal(err)
	}
	plain := &Log{}
	for _, e := range es {
		// What the version 2 writer stored.
		for _, s := range []string{e.Device, e.Profile, e.Proto, e.Decision, e.Category, e.Cache, e.Upstream} {
			if _, err := db.Exec(`INSERT INTO strings (s) VALUES (?) ON CONFLICT DO NOTHING`, s); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Exec(`INSERT INTO queries (time, client, device, profile, name, qtype,
			proto, decision, category, rule, cache, upstream, rcode, latency_us)
			VALUES (?, ?, `+strID+`, `+strID+`, ?, ?, `+strID+`, `+strID+`, `+strID+`, ?, `+strID+`, `+strID+`, ?, ?)`,
			e.Time.UnixMilli(), plain.clientText(e.Client), e.Device, e.Profile,
			normalName(e.Name), int64(e.Type), e.Proto, e.Decision, e.Category,
			e.Rule, e.Cache, e.Upstream, int64(e.Rcode), e.Latency.Microseconds()); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	old := openTest(t, Options{Path: path, FlushEvery: time.Hour})
	var v int
	if err := old.rdb.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != len(migrations()) {
		t.Fatalf("user_version = %d, %v; want %d", v, err, len(migrations()))
	}
	// One batch, one segment: row ids as the migration's.
	fresh := openTest(t, Options{FlushEvery: time.Hour})
	addAll(t, fresh, es...)
	got, _, err1 := old.Search(ctx, Filter{})
	want, _, err2 := fresh.Search(ctx, Filter{})
	if err1 != nil || err2 != nil || !slices.Equal(got, want) || len(got) != len(es) {
		t.Errorf("Search after migration = %v, %v\nfresh log: %v, %v", got, err1, want, err2)
	}
	for _, r := range got {
		if r.Count != 1 {
			t.Errorf("migrated row %d: count %d, want 1", r.ID, r.Count)
		}
	}
	from, to := t0.Add(-24*time.Hour), t0.Add(5*24*time.Hour)
	gs, err1 := old.Stats(ctx, from, to, Day, "device")
	ws, err2 := fresh.Stats(ctx, from, to, Day, "device")
	if err1 != nil || err2 != nil || !slices.Equal(statString(gs), statString(ws)) || len(ws) == 0 {
		t.Errorf("Stats after migration = %q, %v\nfresh log: %q, %v", statString(gs), err1, statString(ws), err2)
	}

	e := Entry{Time: t0, Device: "tablet", Decision: "blocked", Name: "new.example"}
	addAll(t, old, e, e, e)
	rows, _, err := old.Search(ctx, Filter{Name: "new.example"})
	if err != nil || len(rows) != 1 || rows[0].Count != 3 {
		t.Errorf("collapsed row after migration: %+v, %v", rows, err)
	}
}

// TestCollapseAllocs checks that, once its memory has grown, a batch takes
// entries and is emptied without allocating, and that Add never does.
func TestCollapseAllocs(t *testing.T) {
	es := repeatedEntries(4096, 2, 500)
	b := newBatch(len(es), time.Second, true)
	fill := func() {
		for i := range es {
			b.add(&es[i])
		}
		b.reset()
	}
	fill()
	if n := testing.AllocsPerRun(20, fill); n != 0 {
		t.Errorf("a batch of %d entries allocates %v times", len(es), n)
	}

	l := openTest(t, Options{Buffer: 1})
	e := collapseBase()
	if n := testing.AllocsPerRun(100, func() { l.Add(e) }); n != 0 {
		t.Errorf("Add allocates %v times", n)
	}
}
