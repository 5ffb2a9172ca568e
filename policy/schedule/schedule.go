// Package schedule decides which of a profile's time windows are active at
// an instant, and when that next changes, in the profile's IANA time zone.
package schedule

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// MaxWindows is how many windows a Schedule can hold: one bit each.
const MaxWindows = 64

const (
	secondsPerDay  = 24 * 60 * 60
	secondsPerWeek = 7 * secondsPerDay
	// horizon bounds how far ahead Active looks for a change.
	horizon = 8 * 24 * time.Hour
)

// Schedule is a set of windows in one location. It is immutable and safe for
// concurrent use.
type Schedule struct {
	loc *time.Location
	// The week as read on the wall, cut into segments at each point where
	// the set of active windows changes: segment i starts starts[i] seconds
	// after Sunday 00:00 and has sets[i] active until the next start; the
	// last wraps round to the first. Adjacent segments always differ.
	starts []int32
	sets   []uint64
	always uint64 // the set at all times when there are no segments
}

// New returns the schedule of windows in loc. Bit i of an active set stands
// for windows[i].
func New(loc *time.Location, windows []Window) (*Schedule, error) {
	if loc == nil {
		return nil, errors.New("schedule: nil location")
	}
	if len(windows) > MaxWindows {
		return nil, fmt.Errorf("schedule: %d windows, at most %d", len(windows), MaxWindows)
	}
	var points []int32
	for i, w := range windows {
		if err := check(w); err != nil {
			return nil, fmt.Errorf("schedule: window %d (%q): %w", i, w.Name, err)
		}
		for d, on := range w.Days {
			if on {
				from := int32(d)*secondsPerDay + w.From.seconds()
				points = append(points, from, (from+w.length())%secondsPerWeek)
			}
		}
	}
	slices.Sort(points)
	points = slices.Compact(points)
	sets := make([]uint64, len(points))
	for k, p := range points {
		for i, w := range windows {
			if covers(w, p) {
				sets[k] |= 1 << i
			}
		}
	}
	s := &Schedule{loc: loc}
	for k, p := range points {
		if sets[k] != sets[(k+len(sets)-1)%len(sets)] {
			s.starts = append(s.starts, p)
			s.sets = append(s.sets, sets[k])
		}
	}
	if len(s.starts) == 0 && len(sets) > 0 {
		s.always = sets[0]
	}
	return s, nil
}

func check(w Window) error {
	if !w.From.valid(false) {
		return fmt.Errorf("from %v: out of range 00:00 to 23:59", w.From)
	}
	if !w.To.valid(true) {
		return fmt.Errorf("to %v: out of range 00:00 to 24:00", w.To)
	}
	if w.Days == [7]bool{} {
		return errors.New("no days")
	}
	return nil
}

// covers reports whether w is active at p seconds into the wall-clock week.
func covers(w Window, p int32) bool {
	for d, on := range w.Days {
		from := int32(d)*secondsPerDay + w.From.seconds()
		if on && ((p-from)%secondsPerWeek+secondsPerWeek)%secondsPerWeek < w.length() {
			return true
		}
	}
	return false
}

// Location is the location the schedule's windows are read in.
func (s *Schedule) Location() *time.Location { return s.loc }

// Active returns the set of windows active at t (bit i for windows[i]) and
// the first instant after t at which that set differs, or t+8 days if it
// stays the same that long. The set is the same at every instant in
// [t, next). next is in the schedule's location.
func (s *Schedule) Active(t time.Time) (active uint64, next time.Time) {
	limit := t.Add(horizon).In(s.loc)
	if len(s.starts) == 0 {
		return s.always, limit
	}
	w, z := reading(t, s.loc)
	active, b := s.at(w)
	for {
		sec, same := instant(b, z, s.loc)
		next = time.Unix(sec, 0).In(s.loc)
		if !next.Before(limit) {
			return active, limit
		}
		if same {
			// The reading at next is b, where a new segment starts.
			return active, next
		}
		// A clock change lies between: boundaries it jumped over all take
		// effect at once and may cancel out, so look again from there.
		var set uint64
		w, z = reading(next, s.loc)
		if set, b = s.at(w); set != active {
			return active, next
		}
	}
}

// at returns the set active at wall-clock reading w and the reading at
// which the next segment starts.
func (s *Schedule) at(w int64) (set uint64, next int64) {
	days := w / secondsPerDay
	if w%secondsPerDay < 0 {
		days--
	}
	// 1970-01-01 was a Thursday; weekStart is the Sunday 00:00 before w.
	sinceSunday := ((days+int64(time.Thursday))%7+7)%7*secondsPerDay + w - days*secondsPerDay
	weekStart := w - sinceSunday
	i, found := slices.BinarySearch(s.starts, int32(sinceSunday))
	cur, nxt := i-1, i
	if found {
		cur, nxt = i, i+1
	}
	if cur < 0 {
		cur = len(s.starts) - 1 // still in last week's final segment
	}
	if nxt == len(s.starts) {
		return s.sets[cur], weekStart + secondsPerWeek + int64(s.starts[0])
	}
	return s.sets[cur], weekStart + int64(s.starts[nxt])
}
