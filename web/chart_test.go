package web

import (
	"testing"
	"time"

	"github.com/havendns/haven/querylog"
)

func TestHourChart(t *testing.T) {
	from := time.Date(2026, 11, 26, 19, 0, 0, 0, testZone)
	stats := []querylog.Stat{
		{Start: from, Total: 50, Blocked: 10},
		{Start: from.Add(2 * time.Hour), Total: 100, Blocked: 100},
		{Start: from.Add(2 * time.Hour), Key: "", Total: 100}, // a second row for one hour adds up
		{Start: from.Add(30 * time.Hour), Total: 999},         // outside the window: ignored
	}
	ch := newHourChart(from, 24, stats)
	if len(ch.Bars) != 24 || ch.Max != 200 || ch.Total != 250 || ch.Block != 110 {
		t.Fatalf("%d bars, max %d, total %d, blocked %d", len(ch.Bars), ch.Max, ch.Total, ch.Block)
	}
	full := hourBase - hourTop
	tests := []struct {
		i                int
		label, tick      string
		totalH, blockedH float64
	}{
		{0, "19:00", "19h", full / 4, full / 20},
		{1, "20:00", "", 0, 0},
		{2, "21:00", "", full, full / 2},
		{6, "01:00", "01h", 0, 0},
		{23, "18:00", "", 0, 0},
	}
	for _, tt := range tests {
		b := ch.Bars[tt.i]
		if b.Label != tt.label || b.Tick != tt.tick || !near(b.TotalH, tt.totalH) || !near(b.BlockedH, tt.blockedH) {
			t.Errorf("bar %d: %+v", tt.i, b)
		}
		if !near(b.TotalY+b.TotalH, hourBase) || !near(b.BlockedY+b.BlockedH, hourBase) {
			t.Errorf("bar %d does not stand on the baseline: %+v", tt.i, b)
		}
	}
	// Columns do not overlap and stay inside the chart.
	for i := 1; i < len(ch.Bars); i++ {
		if ch.Bars[i].X < ch.Bars[i-1].X+ch.Bars[i-1].W {
			t.Errorf("bars %d and %d overlap", i-1, i)
		}
	}
	if last := ch.Bars[23]; last.X+last.W > float64(ch.Width) {
		t.Errorf("last bar ends at %v, past %d", last.X+last.W, ch.Width)
	}

	if empty := newHourChart(from, 24, nil); empty.Max != 0 || empty.Bars[5].TotalH != 0 {
		t.Errorf("empty chart: %+v", empty.Bars[5])
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestCategoryChart(t *testing.T) {
	day := time.Date(2026, 11, 27, 0, 0, 0, 0, testZone)
	ch := newCategoryChart([]querylog.Stat{
		{Start: day, Key: "social", Blocked: 10},
		{Start: day, Key: "adult", Blocked: 40},
		{Start: day.Add(-24 * time.Hour), Key: "adult", Blocked: 10}, // another day, same category
		{Start: day, Key: "", Blocked: 10},
		{Start: day, Key: "games", Total: 7},
		{Start: day, Key: "a-category-with-a-very-long-name", Blocked: 1},
	})
	want := []struct {
		label, short string
		n            int
	}{
		{"adult", "adult", 50}, {"other", "other", 10}, {"social", "social", 10},
		{"a-category-with-a-very-long-name", "a-category-with…", 1},
	}
	if len(ch.Bars) != len(want) || ch.Total != 71 {
		t.Fatalf("bars %+v, total %d", ch.Bars, ch.Total)
	}
	for i, w := range want {
		b := ch.Bars[i]
		if b.Label != w.label || b.Short != w.short || b.N != w.n {
			t.Errorf("bar %d: %+v, want %+v", i, b, w)
		}
	}
	if !near(ch.Bars[0].W, catBarMax) || !near(ch.Bars[1].W, catBarMax/5) || ch.Bars[3].W < 2 {
		t.Errorf("widths %v %v %v", ch.Bars[0].W, ch.Bars[1].W, ch.Bars[3].W)
	}
	if ch.Height < int(4*catRow) {
		t.Errorf("height %d for 4 rows", ch.Height)
	}
	if empty := newCategoryChart(nil); len(empty.Bars) != 0 {
		t.Errorf("empty: %+v", empty)
	}
}

func TestRoughly(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Minute, "0s"},
		{45 * time.Second, "45s"},
		{12*time.Minute + 30*time.Second, "12m"},
		{3*time.Hour + 10*time.Minute, "3h10m"},
		{2 * time.Hour, "2h"},
		{52 * time.Hour, "2d4h"},
		{48 * time.Hour, "2d"},
	}
	for _, tt := range tests {
		if got := roughly(tt.d); got != tt.want {
			t.Errorf("roughly(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestClockText(t *testing.T) {
	now := testNow() // Friday 27 November, 18:00
	tests := []struct {
		t    time.Time
		want string
	}{
		{now.Add(90 * time.Minute), "19:30"},
		{time.Date(2026, 11, 27, 18, 30, 0, 0, time.UTC), "19:30"}, // shown in the server's zone
		{now.Add(13 * time.Hour), "Sat 07:00"},
		{now.Add(-20 * time.Hour), "Thu 22:00"},
		{now.Add(10 * 24 * time.Hour), "7 Dec 18:00"},
	}
	for _, tt := range tests {
		if got := clockText(tt.t, now); got != tt.want {
			t.Errorf("clockText(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
}
