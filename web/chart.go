package web

import (
	"fmt"
	"sort"
	"time"

	"github.com/havendns/haven/querylog"
)

// Charts are drawn here and only placed by the templates: every
// coordinate is computed in Go, so the SVG needs no script and no styles
// beyond the stylesheet's classes. Each chart carries its numbers for the
// table shown with it.

// categoryChart is a horizontal bar chart of blocked queries per category.
type categoryChart struct {
	Width, Height int
	Bars          []categoryBar
	Total         int
}

type categoryBar struct {
	Label         string
	N             int
	Y, W          float64 // the bar's top and length
	TextY, ValueX float64
	Short         string
}

// Layout of the category chart, in SVG units.
const (
	catRow    = 30.0
	catLabelW = 120.0
	catBarMax = 290.0
	catWidth  = 460
)

// newCategoryChart draws the blocked counts of stats (grouped by
// category), largest first. Queries blocked without a category (a pause,
// the config's deny list) show as "other".
func newCategoryChart(stats []querylog.Stat) categoryChart {
	sums := map[string]int{}
	for _, s := range stats {
		if s.Blocked > 0 {
			k := s.Key
			if k == "" {
				k = "other"
			}
			sums[k] += s.Blocked
		}
	}
	ch := categoryChart{Width: catWidth}
	top := 0
	for k, n := range sums {
		ch.Bars = append(ch.Bars, categoryBar{Label: k, N: n})
		ch.Total += n
		top = max(top, n)
	}
	sort.Slice(ch.Bars, func(i, j int) bool {
		if ch.Bars[i].N != ch.Bars[j].N {
			return ch.Bars[i].N > ch.Bars[j].N
		}
		return ch.Bars[i].Label < ch.Bars[j].Label
	})
	for i := range ch.Bars {
		b := &ch.Bars[i]
		b.Y = float64(i)*catRow + 4
		b.W = max(2, catBarMax*float64(b.N)/float64(top))
		b.TextY = b.Y + catRow/2 + 1
		b.ValueX = catLabelW + b.W + 6
		b.Short = truncate(b.Label, 16)
	}
	ch.Height = int(float64(len(ch.Bars))*catRow) + 8
	return ch
}

// hourChart is a column chart of queries per hour, the blocked part of
// each column drawn over its total.
type hourChart struct {
	Width, Height int
	Bars          []hourBar
	Max           int
	Total, Block  int
	AxisY         float64 // the baseline
}

type hourBar struct {
	Start              time.Time
	Label              string // "14:00"
	Tick               string // shown under every sixth column
	Total, Blocked     int
	X, W               float64
	TotalY, TotalH     float64
	BlockedY, BlockedH float64
	TickX              float64
}

// Layout of the hour chart, in SVG units.
const (
	hourWidth  = 480
	hourHeight = 180
	hourLeft   = 34.0
	hourTop    = 12.0
	hourBase   = 150.0
)

// newHourChart draws hours consecutive hours starting at from (the start
// of an hour), from stats bucketed by hour and not grouped. Hours without
// queries are empty columns.
func newHourChart(from time.Time, hours int, stats []querylog.Stat) hourChart {
	byStart := map[int64]querylog.Stat{}
	for _, s := range stats {
		x := byStart[s.Start.Unix()]
		x.Total += s.Total
		x.Blocked += s.Blocked
		byStart[s.Start.Unix()] = x
	}
	ch := hourChart{Width: hourWidth, Height: hourHeight, AxisY: hourBase}
	slot := (float64(hourWidth) - hourLeft - 4) / float64(hours)
	for i := range hours {
		start := from.Add(time.Duration(i) * time.Hour)
		s := byStart[start.Unix()]
		b := hourBar{Start: start, Label: start.Format("15:04"), Total: s.Total, Blocked: s.Blocked,
			X: hourLeft + float64(i)*slot + 1, W: slot - 2}
		b.TickX = b.X + b.W/2
		if i%6 == 0 {
			b.Tick = start.Format("15h")
		}
		ch.Bars = append(ch.Bars, b)
		ch.Max = max(ch.Max, s.Total)
		ch.Total += s.Total
		ch.Block += s.Blocked
	}
	scale := 0.0
	if ch.Max > 0 {
		scale = (hourBase - hourTop) / float64(ch.Max)
	}
	for i := range ch.Bars {
		b := &ch.Bars[i]
		b.TotalH = float64(b.Total) * scale
		b.TotalY = hourBase - b.TotalH
		b.BlockedH = float64(b.Blocked) * scale
		b.BlockedY = hourBase - b.BlockedH
	}
	return ch
}

// hourStart is the start of t's hour on its wall clock.
func hourStart(t time.Time) time.Time {
	return t.Add(-time.Duration(t.Minute())*time.Minute - time.Duration(t.Second())*time.Second -
		time.Duration(t.Nanosecond()))
}

// dayStart is local midnight of t's day.
func dayStart(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// svgNum formats a coordinate compactly.
func svgNum(f float64) string { return fmt.Sprintf("%.1f", f) }
