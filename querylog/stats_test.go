package querylog

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
)

// statsData spreads queries over four days, each stamped by a clock that
// is moved forward between them as a running server's would be.
func statsData() []Entry {
	clock := dnstest.NewClock(time.Time{})
	var es []Entry
	at := func(day, h, m int, dev, prof, dec, cat string) {
		clock.Set(time.Date(2025, 3, day, h, m, 0, 0, time.UTC))
		es = append(es, Entry{Time: clock.Now(), Device: dev, Profile: prof,
			Name: "x.example", Decision: dec, Category: cat})
	}
	clock.Set(time.Date(2025, 3, 9, 23, 59, 59, 999e6, time.UTC))
	es = append(es, Entry{Time: clock.Now(), Device: "tablet", Profile: "kids", Decision: "allowed"})
	at(10, 8, 10, "tablet", "kids", "blocked", "ads")
	at(10, 8, 40, "tablet", "kids", "allowed", "")
	at(10, 9, 5, "laptop", "adults", "allowed", "")
	at(11, 8, 20, "tablet", "kids", "blocked", "social")
	at(11, 20, 0, "laptop", "adults", "blocked", "ads")
	at(12, 23, 59, "tablet", "kids", "allowed", "")
	at(13, 0, 0, "tablet", "kids", "allowed", "")
	return es
}

func statString(ss []Stat) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%s %s %d/%d", s.Start.Format("01-02T15:04Z07:00"), s.Key, s.Total, s.Blocked)
	}
	return out
}

func TestStats(t *testing.T) {
	l := openTest(t, Options{})
	addAll(t, l, statsData()...)
	utcFrom, utcTo := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 13, 0, 0, 0, 0, time.UTC)
	ist := time.FixedZone("IST", 5*3600+1800)
	istFrom, istTo := time.Date(2025, 3, 10, 0, 0, 0, 0, ist), time.Date(2025, 3, 13, 0, 0, 0, 0, ist)

	tests := []struct {
		name     string
		from, to time.Time
		bucket   Bucket
		by       string
		want     []string
	}{
		{"day totals", utcFrom, utcTo, Day, "", []string{
			"03-10T00:00Z  3/1", "03-11T00:00Z  2/2", "03-12T00:00Z  1/0"}},
		{"day by device", utcFrom, utcTo, Day, "device", []string{
			"03-10T00:00Z laptop 1/0", "03-10T00:00Z tablet 2/1",
			"03-11T00:00Z laptop 1/1", "03-11T00:00Z tablet 1/1",
			"03-12T00:00Z tablet 1/0"}},
		{"day by profile", utcFrom, utcTo, Day, "profile", []string{
			"03-10T00:00Z adults 1/0", "03-10T00:00Z kids 2/1",
			"03-11T00:00Z adults 1/1", "03-11T00:00Z kids 1/1",
			"03-12T00:00Z kids 1/0"}},
		{"day by category", utcFrom, utcTo, Day, "category", []string{
			"03-10T00:00Z  2/0", "03-10T00:00Z ads 1/1",
			"03-11T00:00Z ads 1/1", "03-11T00:00Z social 1/1",
			"03-12T00:00Z  1/0"}},
		{"hour totals", utcFrom, utcTo, Hour, "", []string{
			"03-10T08:00Z  2/1", "03-10T09:00Z  1/0",
			"03-11T08:00Z  1/1", "03-11T20:00Z  1/1",
			"03-12T23:00Z  1/0"}},
		{"hour by device", utcFrom, utcTo.Add(-24 * time.Hour), Hour, "device", []string{
			"03-10T08:00Z tablet 2/1", "03-10T09:00Z laptop 1/0",
			"03-11T08:00Z tablet 1/1", "03-11T20:00Z laptop 1/1"}},
		// Local midnight in a half-hour zone is 18:30 UTC: the 23:59:59 UTC
		// query of the 9th falls on the 10th, the 20:00 UTC one of the
		// 11th on the 12th, and the last two are past the end.
		{"day totals, UTC+5:30", istFrom, istTo, Day, "", []string{
			"03-10T00:00+05:30  4/1", "03-11T00:00+05:30  1/1", "03-12T00:00+05:30  1/1"}},
		{"hour totals, UTC+5:30", istFrom, istTo, Hour, "", []string{
			"03-10T05:00+05:30  1/0", "03-10T13:00+05:30  1/1", "03-10T14:00+05:30  2/0",
			"03-11T13:00+05:30  1/1", "03-12T01:00+05:30  1/1"}},
		{"empty range", utcTo.Add(time.Hour), utcTo.Add(2 * time.Hour), Day, "", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ss, err := l.Stats(context.Background(), tt.from, tt.to, tt.bucket, tt.by)
			if err != nil {
				t.Fatalf("Stats: %v", err)
			}
			if got := statString(ss); !slices.Equal(got, tt.want) {
				t.Errorf("Stats =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestStatsBadArgs(t *testing.T) {
	l := openTest(t, Options{})
	for _, c := range []struct {
		b  Bucket
		by string
	}{{"week", ""}, {Day, "name"}, {Day, "device; DROP TABLE queries"}} {
		if _, err := l.Stats(context.Background(), t0, t0.Add(time.Hour), c.b, c.by); err == nil {
			t.Errorf("Stats(%q, %q): want error", c.b, c.by)
		}
	}
}

func TestBucketStartDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	// 2025-11-02 01:30 happens twice in New York; each is in its own hour.
	first := time.Date(2025, 11, 2, 5, 30, 0, 0, time.UTC).In(ny)  // 01:30 EDT
	second := time.Date(2025, 11, 2, 6, 30, 0, 0, time.UTC).In(ny) // 01:30 EST
	if got := bucketStart(first, Hour); !got.Equal(first.Add(-30 * time.Minute)) {
		t.Errorf("hour of %v = %v", first, got)
	}
	if got := bucketStart(second, Hour); !got.Equal(second.Add(-30 * time.Minute)) {
		t.Errorf("hour of %v = %v", second, got)
	}
	if got, want := bucketStart(second, Day), time.Date(2025, 11, 2, 4, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("day of %v = %v, want %v", second, got, want)
	}
}

func TestTop(t *testing.T) {
	l := openTest(t, Options{})
	var es []Entry
	add := func(n int, name, dec, dev string, day int) {
		for range n {
			es = append(es, Entry{Time: t0.Add(time.Duration(day) * 24 * time.Hour), Name: name, Decision: dec, Device: dev})
		}
	}
	add(2, "ads.doubleclick.net", "blocked", "tablet", 0)
	add(1, "ads.doubleclick.net", "blocked", "laptop", 0)
	add(2, "tiktok.com", "blocked", "tablet", 0)
	add(1, "porn.example", "blocked", "laptop", 0)
	add(4, "www.youtube.com", "allowed", "tablet", 0)
	add(2, "www.google.com", "rewritten", "tablet", 0)
	add(1, "example.org", "allowed", "laptop", 0)
	add(9, "late.example", "blocked", "tablet", 2) // outside the window
	addAll(t, l, es...)
	from, to := t0, t0.Add(24*time.Hour)

	tests := []struct {
		name    string
		blocked bool
		device  string
		n       int
		want    []Count
	}{
		{"blocked", true, "", 10, []Count{{"ads.doubleclick.net", 3}, {"tiktok.com", 2}, {"porn.example", 1}}},
		{"blocked, one device, ties by name", true, "tablet", 10, []Count{{"ads.doubleclick.net", 2}, {"tiktok.com", 2}}},
		{"not blocked", false, "", 2, []Count{{"www.youtube.com", 4}, {"www.google.com", 2}}},
		{"not blocked, laptop", false, "laptop", 0, []Count{{"example.org", 1}}},
		{"unknown device", true, "toaster", 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.Top(context.Background(), from, to, tt.blocked, tt.device, tt.n)
			if err != nil {
				t.Fatalf("Top: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Top = %v, want %v", got, tt.want)
			}
		})
	}
}
