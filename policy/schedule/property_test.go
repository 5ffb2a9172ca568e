package schedule

import (
	"testing"
	"time"
)

// oracle is the documented rule computed the slow, obvious way: each
// occurrence of a window starts at the first instant the location's clock
// reads its start or later, and ends likewise at its end.
type oracle struct {
	loc     *time.Location
	windows []Window
	first   map[time.Time]time.Time // wall time (as UTC) -> instant
}

// firstReading returns the first instant at which the clock reads wall or
// later, found by walking forward a minute at a time from well before it.
func (o *oracle) firstReading(wall time.Time) time.Time {
	if x, ok := o.first[wall]; ok {
		return x
	}
	y, m, d := wall.Date()
	x := time.Date(y, m, d, wall.Hour(), wall.Minute(), 0, 0, o.loc).Add(-3 * time.Hour).Truncate(time.Minute)
	for {
		_, off := x.In(o.loc).Zone()
		if x.Unix()+int64(off) >= wall.Unix() {
			o.first[wall] = x
			return x
		}
		x = x.Add(time.Minute)
	}
}

func (o *oracle) active(x time.Time) uint64 {
	y, m, d := x.In(o.loc).Date()
	var set uint64
	for i, w := range o.windows {
		for dd := -2; dd <= 1; dd++ {
			day := time.Date(y, m, d+dd, 0, 0, 0, 0, time.UTC)
			if !w.Days[day.Weekday()] {
				continue
			}
			from := day.Add(time.Duration(w.From.seconds()) * time.Second)
			start := o.firstReading(from)
			end := o.firstReading(from.Add(time.Duration(w.length()) * time.Second))
			if !x.Before(start) && x.Before(end) {
				set |= 1 << i
			}
		}
	}
	return set
}

// transitions returns the instants in 2026 at which loc's offset changes.
func transitions(loc *time.Location) []time.Time {
	var ts []time.Time
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
	for {
		_, end := t.ZoneBounds()
		if end.IsZero() || end.Year() > 2026 {
			return ts
		}
		ts = append(ts, end)
		t = end
	}
}

// TestActiveWalk walks minute by minute through the week around every 2026
// clock change in some awkward zones, and an ordinary week, checking Active
// against the oracle and that next is exactly where the set changes.
func TestActiveWalk(t *testing.T) {
	windows := []Window{
		win(t, "bedtime", "sun,mon,tue,wed,thu", "21:00", "07:00"),
		win(t, "homework", "weekdays", "16:00", "18:00"),
		win(t, "night", "daily", "01:30", "02:30"),
		win(t, "midnight", "daily", "00:00", "01:00"),
		win(t, "short", "daily", "02:15", "02:45"),
		win(t, "lord howe", "daily", "01:45", "02:15"),
		win(t, "saturday", "sat", "03:00", "03:00"),
		win(t, "late", "daily", "23:30", "24:00"),
		win(t, "friday", "fri", "01:00", "01:30"),
		win(t, "sunday", "sun", "00:00", "00:00"),
	}
	zones := []string{
		"Europe/London",
		"America/New_York",
		"Australia/Lord_Howe", // changes by 30 minutes at 02:00
		"America/Santiago",    // changes at midnight: 00:00 is skipped or repeated
		"Pacific/Auckland",
	}
	for _, zone := range zones {
		loc := mustLoc(t, zone)
		ts := transitions(loc)
		if len(ts) == 0 {
			t.Fatalf("%s: no clock changes in 2026", zone)
		}
		ts = append(ts, time.Date(2026, 1, 8, 0, 0, 0, 0, loc)) // an ordinary week
		for _, tr := range ts {
			t.Run(zone+"/"+tr.Format("2006-01-02"), func(t *testing.T) {
				walk(t, loc, windows, tr.Add(-84*time.Hour), tr.Add(84*time.Hour))
			})
		}
	}
	t.Run("UTC", func(t *testing.T) {
		from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		walk(t, time.UTC, windows, from, from.Add(7*24*time.Hour))
	})
}

func walk(t *testing.T, loc *time.Location, windows []Window, from, to time.Time) {
	s := mustNew(t, loc, windows...)
	o := &oracle{loc: loc, windows: windows, first: map[time.Time]time.Time{}}
	fails := 0
	fail := func(format string, args ...any) {
		t.Helper()
		if fails++; fails <= 10 {
			t.Errorf(format, args...)
		}
	}
	for at := from.Truncate(time.Minute); at.Before(to); at = at.Add(time.Minute) {
		set, next := s.Active(at)
		if want := o.active(at); set != want {
			fail("Active(%s) = %b, oracle %b", at, set, want)
		}
		if !next.After(at) || next.Sub(at) > horizon {
			fail("Active(%s): next %s out of range", at, next)
			continue
		}
		if before, _ := s.Active(next.Add(-time.Nanosecond)); before != set {
			fail("Active(%s) = %b until %s, but Active(next-1ns) = %b", at, set, next, before)
		}
		if next.Sub(at) < horizon {
			if after := o.active(next); after == set {
				fail("Active(%s) = %b, next %s, but oracle there is still %b", at, set, next, after)
			}
		}
		// Off the minute too: the same answer through to next.
		if mid := at.Add(29*time.Second + 7); mid.Before(next) {
			if set2, next2 := s.Active(mid); set2 != set || !next2.Equal(next) {
				fail("Active(%s) = %b, %s; Active(%s) = %b, %s", at, set, next, mid, set2, next2)
			}
		}
	}
}
