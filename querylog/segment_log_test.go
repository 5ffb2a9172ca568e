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

// segmentedLogs returns logs holding es in segments of 1, 3 and up to 8192
// rows, with their names.
func segmentedLogs(t *testing.T, es []Entry) map[string]*Log {
	t.Helper()
	logs := map[string]*Log{}
	for _, n := range []int{1, 3, DefaultBatchSize} {
		l := openTest(t, Options{BatchSize: n, FlushEvery: time.Hour, Retention: KeepForever})
		addAll(t, l, es...)
		logs[fmt.Sprintf("segments of %d", n)] = l
	}
	return logs
}

// segmentData is searchData and statsData with distinct times and a
// row per entry.
func segmentData() []Entry {
	es := append(searchData(), statsData()...)
	for i := range es {
		es[i].Rule = fmt.Sprintf("rule%d", i%4) // no two collapse
	}
	return es
}

// TestSegmentsAnswerAlike checks that Search, Stats and Top answer the
// same whatever the segments' size: from summaries or rows, within one
// segment or across many.
func TestSegmentsAnswerAlike(t *testing.T) {
	es := segmentData()
	logs := segmentedLogs(t, es)
	ctx := context.Background()
	ref := logs[fmt.Sprintf("segments of %d", DefaultBatchSize)]
	dayFrom, dayTo := time.Date(2025, 3, 10, 8, 20, 0, 0, time.UTC), time.Date(2025, 3, 11, 20, 0, 0, 0, time.UTC)
	for name, l := range logs {
		t.Run(name, func(t *testing.T) {
			for _, f := range []Filter{{}, {Device: "tablet"}, {Decision: "blocked"}, {Category: "ads"},
				{Profile: "adults", Decision: "blocked"}, {Client: "192.168.1.20"}, {Name: "youtube"},
				{From: dayFrom, To: dayTo}, {Device: "toaster"}} {
				got, _, err1 := l.Search(ctx, f)
				want, _, err2 := ref.Search(ctx, f)
				if err1 != nil || err2 != nil || !slices.Equal(minutesOf(got), minutesOf(want)) {
					t.Errorf("Search(%+v) = %v, %v; one segment: %v, %v", f, minutesOf(got), err1, minutesOf(want), err2)
				}
			}
			for _, r := range [][2]time.Time{{t0.Add(-24 * time.Hour), t0.Add(5 * 24 * time.Hour)}, {dayFrom, dayTo}} {
				for _, by := range []string{"", "device", "profile", "category"} {
					got, err1 := l.Stats(ctx, r[0], r[1], Hour, by)
					want, err2 := ref.Stats(ctx, r[0], r[1], Hour, by)
					if err1 != nil || err2 != nil || !slices.Equal(statString(got), statString(want)) || len(want) == 0 {
						t.Errorf("Stats(%v, by %q) = %q, %v; one segment: %q, %v", r, by, statString(got), err1, statString(want), err2)
					}
				}
				for _, blocked := range []bool{true, false} {
					got, err1 := l.Top(ctx, r[0], r[1], blocked, "", 10)
					want, err2 := ref.Top(ctx, r[0], r[1], blocked, "", 10)
					if err1 != nil || err2 != nil || !slices.Equal(got, want) || len(want) == 0 {
						t.Errorf("Top(%v, %v) = %v, %v; one segment: %v, %v", r, blocked, got, err1, want, err2)
					}
				}
			}
		})
	}
}

// minutesOf is rows' times, as unix ms, for comparing pages.
func minutesOf(rows []Row) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.Time.UnixMilli()
	}
	return out
}

// TestPagingAcrossSegments pages through segments of various sizes with
// and without filters, while new segments arrive: every matching row comes
// exactly once, newest first, and the rows written after the first page
// are not on the later ones.
func TestPagingAcrossSegments(t *testing.T) {
	var es []Entry
	for i := range 60 {
		es = append(es, Entry{Time: t0.Add(time.Duration(i) * time.Second), Device: []string{"tablet", "laptop", "phone"}[i%3],
			Decision: []string{"allowed", "blocked"}[i%7/5], Name: fmt.Sprintf("n%d.example", i)})
	}
	for _, batch := range []int{1, 4, 7, 100} {
		for _, f := range []Filter{{Limit: 5}, {Limit: 4, Device: "tablet"}, {Limit: 3, Decision: "blocked"},
			{Limit: 2, Device: "phone", Decision: "blocked"}, {Limit: 6, From: t0.Add(10 * time.Second), To: t0.Add(50 * time.Second)}} {
			t.Run(fmt.Sprintf("batch %d, %+v", batch, f), func(t *testing.T) {
				l := openTest(t, Options{BatchSize: batch, FlushEvery: time.Hour})
				addAll(t, l, es...)
				var want []string
				for i := len(es) - 1; i >= 0; i-- {
					e := es[i]
					if (f.Device == "" || e.Device == f.Device) && (f.Decision == "" || e.Decision == f.Decision) &&
						(f.From.IsZero() || !e.Time.Before(f.From)) && (f.To.IsZero() || e.Time.Before(f.To)) {
						want = append(want, e.Name)
					}
				}
				var got []string
				for page := 0; ; page++ {
					rows, next, err := l.Search(context.Background(), f)
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range rows {
						got = append(got, r.Name)
					}
					if page == 0 {
						// Newer rows, in new segments, arrive meanwhile.
						late := es[len(es)-1]
						late.Name, late.Time = "late.example", late.Time.Add(time.Hour)
						addAll(t, l, late, late, late)
					}
					if next == 0 {
						break
					}
					if next != rows[len(rows)-1].ID || page > 100 {
						t.Fatalf("next = %d, want the last row's ID %d", next, rows[len(rows)-1].ID)
					}
					f.Before = next
				}
				if !slices.Equal(got, want) {
					t.Errorf("pages hold %q\nwant %q", got, want)
				}
			})
		}
	}
}

// TestRewriteKeepsIDs deletes a device's rows from segments and prunes a
// segment straddling the cutoff: the other rows keep their IDs (a cursor
// taken before still pages right) and the summaries follow.
func TestRewriteKeepsIDs(t *testing.T) {
	now := t0.Add(10 * time.Minute)
	l := openTest(t, Options{BatchSize: 4, FlushEvery: time.Hour, Retention: 5 * time.Minute, Now: func() time.Time { return now }})
	var es []Entry
	for i := range 10 {
		dev := "tablet"
		if i%3 == 0 {
			dev = "laptop"
		}
		e := Entry{Time: t0.Add(time.Duration(i) * time.Minute), Device: dev, Decision: "blocked", Name: fmt.Sprintf("n%d.example", i)}
		es = append(es, e)
	}
	addAll(t, l, es...)
	ctx := context.Background()
	before, _, err := l.Search(ctx, Filter{})
	if err != nil || len(before) != 10 {
		t.Fatalf("Search = %d rows, %v", len(before), err)
	}
	ids := map[string]int64{}
	for _, r := range before {
		ids[r.Name] = r.ID
	}
	// Segments of 4 rows: 0-3, 4-7, 8-9. The laptop has 0, 3, 6 and 9.
	if n, err := l.DeleteDevice(ctx, "laptop"); err != nil || n != 4 {
		t.Fatalf("DeleteDevice = %d, %v; want 4 queries", n, err)
	}
	// Minutes 0-4 are older than 5 minutes: segment 0-3 goes, 4-7 loses 4.
	if n, err := l.Prune(ctx); err != nil || n != 3 {
		t.Fatalf("Prune = %d, %v; want 3 queries", n, err)
	}
	after, _, err := l.Search(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range after {
		names = append(names, r.Name)
		if r.ID != ids[r.Name] {
			t.Errorf("%s: ID %d, was %d", r.Name, r.ID, ids[r.Name])
		}
	}
	if want := []string{"n8.example", "n7.example", "n5.example"}; !slices.Equal(names, want) {
		t.Errorf("left %q, want %q", names, want)
	}
	// A cursor from before the rewrite: the rows older than n8.
	rows, next, err := l.Search(ctx, Filter{Before: ids["n8.example"], Limit: 1})
	if err != nil || len(rows) != 1 || rows[0].Name != "n7.example" || next != ids["n7.example"] {
		t.Errorf("Search(Before n8) = %+v, next %d, %v", rows, next, err)
	}
	ss, err := l.Stats(ctx, t0.Add(-time.Hour), t0.Add(time.Hour), Day, "device")
	if err != nil || !slices.Equal(statString(ss), []string{"03-10T00:00Z tablet 3/3"}) {
		t.Errorf("Stats after the rewrites = %q, %v", statString(ss), err)
	}
	var segs, queries int
	if err := l.rdb.QueryRow(`SELECT COUNT(*), SUM(queries) FROM segments`).Scan(&segs, &queries); err != nil || segs != 2 || queries != 3 {
		t.Errorf("%d segments of %d queries (%v), want 2 of 3", segs, queries, err)
	}
}

// TestMigrateV3 opens a log written by schema version 3 (a row per
// query, with counts) with more rows than a segment takes: the rows become
// segments and answer as a log written by this version.
func TestMigrateV3(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v3.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, migrations()[:3]); err != nil {
		t.Fatal(err)
	}
	es := segmentData()
	const bulk = 2*DefaultBatchSize + 5 // then enough to fill more than two segments
	for i := range bulk {
		es = append(es, Entry{Time: t0.Add(time.Duration(i) * time.Second), Device: "tv", Profile: "kids",
			Client: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), Name: fmt.Sprintf("bulk%d.example", i),
			Decision: "allowed", Proto: "udp", Cache: "hit", Type: 1, Latency: time.Duration(i) * time.Microsecond})
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	plain := &Log{}
	for _, e := range es[:len(es)-bulk] {
		// What the version 3 writer stored.
		for _, s := range []string{e.Device, e.Profile, e.Proto, e.Decision, e.Category, e.Cache, e.Upstream, "tv", "hit"} {
			if _, err := tx.Exec(`INSERT INTO strings (s) VALUES (?) ON CONFLICT DO NOTHING`, s); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tx.Exec(`INSERT INTO queries (time, client, device, profile, name, qtype,
			proto, decision, category, rule, cache, upstream, rcode, latency_us, count)
			VALUES (?, ?, `+strID+`, `+strID+`, ?, ?, `+strID+`, `+strID+`, `+strID+`, ?, `+strID+`, `+strID+`, ?, ?, ?)`,
			e.Time.UnixMilli(), plain.clientText(e.Client), e.Device, e.Profile,
			normalName(e.Name), int64(e.Type), e.Proto, e.Decision, e.Category,
			e.Rule, e.Cache, e.Upstream, int64(e.Rcode), e.Latency.Microseconds(), 2); err != nil {
			t.Fatal(err)
		}
	}
	// The bulk rows in one statement, as the loop above would store them.
	if _, err := tx.Exec(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
		INSERT INTO queries (time, client, device, profile, name, qtype,
			proto, decision, category, rule, cache, upstream, rcode, latency_us, count)
		SELECT ? + i * 1000, '10.0.0.' || (i % 256), `+strID+`, `+strID+`, 'bulk' || i || '.example', 1,
			`+strID+`, `+strID+`, `+strID+`, '', `+strID+`, `+strID+`, 0, i, 2 FROM n`,
		bulk, t0.UnixMilli(), "tv", "kids", "udp", "allowed", "", "hit", ""); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	old := openTest(t, Options{Path: path, Retention: KeepForever})
	var segs, rows, queries int
	if err := old.rdb.QueryRow(`SELECT COUNT(*), SUM(rows), SUM(queries) FROM segments`).Scan(&segs, &rows, &queries); err != nil ||
		segs != 3 || rows != len(es) || queries != 2*len(es) {
		t.Errorf("%d segments, %d rows, %d queries (%v); want 3, %d, %d", segs, rows, queries, err, len(es), 2*len(es))
	}
	if err := old.rdb.QueryRow(`SELECT COUNT(*) FROM queries`).Scan(&rows); err == nil {
		t.Error("the queries table is still there")
	}
	// Each query twice, as the counts say, in one batch so that no pair is
	// split.
	fresh := openTest(t, Options{Retention: KeepForever, Buffer: 2 * len(es), BatchSize: maxSegmentRows, FlushEvery: time.Hour})
	var twice []Entry
	for _, e := range es {
		twice = append(twice, e, e)
	}
	addAll(t, fresh, twice...)
	for _, f := range []Filter{{}, {Limit: MaxLimit}, {Device: "tablet"}, {Decision: "blocked"}, {Client: "10.0.0.7"},
		{Name: "bulk77"}} {
		got, _, err1 := old.Search(ctx, f)
		want, _, err2 := fresh.Search(ctx, f)
		if err1 != nil || err2 != nil || len(want) == 0 || !sameRows(got, want) {
			t.Errorf("Search(%+v) after migration = %v, %v\nfresh log: %v, %v", f, got, err1, want, err2)
		}
	}
	from, to := t0.Add(-24*time.Hour), t0.Add(5*24*time.Hour)
	for _, by := range []string{"", "device", "category"} {
		got, err1 := old.Stats(ctx, from, to, Hour, by)
		want, err2 := fresh.Stats(ctx, from, to, Hour, by)
		if err1 != nil || err2 != nil || !slices.Equal(statString(got), statString(want)) || len(want) == 0 {
			t.Errorf("Stats(by %q) after migration = %q, %v\nfresh log: %q, %v", by, statString(got), err1, statString(want), err2)
		}
	}
	// Paging goes through every segment, newest first.
	var rowsSeen, querySum int
	last := time.Time{}
	for f := (Filter{Limit: MaxLimit}); ; {
		page, next, err := old.Search(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			rowsSeen++
			querySum += r.Count
			if r.Device == "tv" && !last.IsZero() && !r.Time.Before(last) {
				t.Fatalf("row %d at %v after one at %v", r.ID, r.Time, last)
			}
			if r.Device == "tv" {
				last = r.Time
			}
		}
		if next == 0 {
			break
		}
		f.Before = next
	}
	if rowsSeen != len(es) || querySum != 2*len(es) {
		t.Errorf("paged through %d rows of %d queries, want %d of %d", rowsSeen, querySum, len(es), 2*len(es))
	}
	got, err1 := old.Top(ctx, from, to, false, "", 5)
	want, err2 := fresh.Top(ctx, from, to, false, "", 5)
	if err1 != nil || err2 != nil || !slices.Equal(got, want) || len(want) != 5 {
		t.Errorf("Top after migration = %v, %v\nfresh log: %v, %v", got, err1, want, err2)
	}
}

// sameRows compares rows but for their IDs, which depend on how the rows
// were cut into segments.
func sameRows(a, b []Row) bool {
	return slices.EqualFunc(a, b, func(x, y Row) bool {
		x.ID, y.ID = 0, 0
		return x == y
	})
}
