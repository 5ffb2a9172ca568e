package schedule

import "time"

// Wall-clock readings here are "local seconds": seconds since 1970-01-01
// 00:00 as read on the location's clocks, i.e. Unix seconds plus the UTC
// offset. They make the week pattern plain integer arithmetic; this file
// maps between them and real instants.
//
// The rule (see README.md) is that a boundary at wall time b takes effect at
// the first instant the clock reads b or later. That mapping from wall time
// to instant never goes backwards, so at an instant x the windows active are
// those whose wall-clock span contains reading(x), the latest wall time whose
// boundary has taken effect by x. reading(x) is the clock's own reading
// except while a fall-back repeats an hour: every boundary in that hour took
// effect on the first pass, so the reading stays just below the end of the
// repeated hour until the clock gets there again.

// zone is the stretch of the location's time line that an instant is in.
type zone struct {
	off     int64 // UTC offset, seconds east
	end     int64 // Unix second the next offset starts, if bounded
	bounded bool
}

// reading returns the wall-clock reading that decides which windows are
// active at t, and t's zone.
func reading(t time.Time, loc *time.Location) (int64, zone) {
	lt := t.In(loc)
	_, off := lt.Zone()
	start, end := lt.ZoneBounds()
	sec := lt.Unix()
	z := zone{off: int64(off), end: end.Unix(), bounded: !end.IsZero()}
	// Only the first hours of a zone can be a repeat, so the usual case
	// skips the look-up of the previous offset.
	if !start.IsZero() && sec-start.Unix() < secondsPerDay {
		_, prev := start.Add(-time.Second).Zone()
		if back := int64(prev - off); back > 0 && sec < start.Unix()+back {
			return start.Unix() + int64(prev) - 1, z
		}
	}
	return sec + z.off, z
}

// instant returns the Unix second at which the boundary at wall time b takes
// effect, for b after the reading of an instant in zone z. same reports that
// b is in z itself, and so is the reading at the result.
func instant(b int64, z zone, loc *time.Location) (sec int64, same bool) {
	same = true
	for {
		if c := b - z.off; !z.bounded || c < z.end {
			return c, same
		}
		same = false
		next := time.Unix(z.end, 0).In(loc)
		_, off := next.Zone()
		if b-int64(off) < z.end {
			// The clocks jumped forward over b: it takes effect at the jump.
			return z.end, false
		}
		_, end := next.ZoneBounds()
		z = zone{off: int64(off), end: end.Unix(), bounded: !end.IsZero()}
	}
}
