package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Clock is a wall-clock time of day. 24:00 is valid only as a window's end.
type Clock struct{ Hour, Minute int }

// ParseClock parses "H:MM" or "HH:MM" on a 24-hour clock. "24:00" is
// accepted so a window can end at midnight.
func ParseClock(s string) (Clock, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return Clock{}, fmt.Errorf("clock %q: want HH:MM", s)
	}
	c := Clock{Hour: digits(h), Minute: digits(m)}
	if c.Hour < 0 || c.Minute < 0 {
		return Clock{}, fmt.Errorf("clock %q: want HH:MM", s)
	}
	if !c.valid(true) {
		return Clock{}, fmt.Errorf("clock %q: out of range 00:00 to 24:00", s)
	}
	return c, nil
}

// digits is the value of a short run of ASCII digits, or -1. strconv.Atoi
// would also take signs.
func digits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// String formats c as HH:MM.
func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", c.Hour, c.Minute) }

// valid reports whether c is a time of day; 24:00 only if end.
func (c Clock) valid(end bool) bool {
	if end && c.Hour == 24 && c.Minute == 0 {
		return true
	}
	return c.Hour >= 0 && c.Hour < 24 && c.Minute >= 0 && c.Minute < 60
}

// seconds is c as seconds after midnight.
func (c Clock) seconds() int32 { return int32(c.Hour*3600 + c.Minute*60) }

// Window is a named time window repeated on some days of the week.
type Window struct {
	Name string
	// Days are the days the window starts on, indexed by time.Weekday. A
	// window that crosses midnight runs on into the next day whether or not
	// that day is set: bedtime starting Sunday 21:00 covers Monday morning.
	Days [7]bool
	// From is when the window starts and To when it ends. To <= From means
	// it ends at To on the next day, so From == To is a whole day. To may be
	// 24:00; From may not.
	From, To Clock
}

// length is how long w lasts in wall-clock seconds, at most a day.
func (w Window) length() int32 {
	d := w.To.seconds() - w.From.seconds()
	if d <= 0 {
		d += secondsPerDay
	}
	return d
}

// namedDays is the set of days a name in ParseDays stands for. The config
// loader keeps a copy (config imports nothing of Haven's): the two must
// accept the same names and give the same sets, as TestDaysAgree checks.
func namedDays(name string) ([7]bool, bool) {
	switch strings.ToLower(name) {
	case "sun", "sunday":
		return [7]bool{time.Sunday: true}, true
	case "mon", "monday":
		return [7]bool{time.Monday: true}, true
	case "tue", "tuesday":
		return [7]bool{time.Tuesday: true}, true
	case "wed", "wednesday":
		return [7]bool{time.Wednesday: true}, true
	case "thu", "thursday":
		return [7]bool{time.Thursday: true}, true
	case "fri", "friday":
		return [7]bool{time.Friday: true}, true
	case "sat", "saturday":
		return [7]bool{time.Saturday: true}, true
	case "weekdays":
		return [7]bool{false, true, true, true, true, true, false}, true
	case "weekends":
		return [7]bool{true, false, false, false, false, false, true}, true
	case "daily", "all":
		return [7]bool{true, true, true, true, true, true, true}, true
	}
	return [7]bool{}, false
}

// ParseDays parses day names into a Days set: "mon" to "sun" (or the full
// names), "weekdays", "weekends", and "daily" or "all", in any case. The
// result is the union; an empty list is an error.
func ParseDays(days []string) ([7]bool, error) {
	var set [7]bool
	if len(days) == 0 {
		return set, errors.New("days: none given")
	}
	for _, d := range days {
		v, ok := namedDays(d)
		if !ok {
			return [7]bool{}, fmt.Errorf("day %q: want mon to sun, weekdays, weekends or daily", d)
		}
		for i := range set {
			set[i] = set[i] || v[i]
		}
	}
	return set, nil
}
