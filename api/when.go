package api

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// expiry returns when a pause or exception asked for with "for" or
// "until" ends. Exactly one must be given: a pause with no end would be
// easy to forget, and the config's schedules are the place for lasting
// rules.
func expiry(now time.Time, forStr, until string) (time.Time, error) {
	switch {
	case forStr == "" && until == "":
		return time.Time{}, invalid(`give "for" (a duration such as 30m) or "until" (HH:MM or an RFC 3339 time)`)
	case forStr != "" && until != "":
		return time.Time{}, invalid(`give "for" or "until", not both`)
	case forStr != "":
		d, err := ParseDuration(forStr)
		if err != nil {
			return time.Time{}, invalid("for: %v", err)
		}
		if d <= 0 {
			return time.Time{}, invalid("for: %q must be positive", forStr)
		}
		return now.Add(d), nil
	}
	if h, m, ok := clock(until); ok {
		return nextClock(now, h, m), nil
	}
	t, err := time.Parse(time.RFC3339, until)
	if err != nil {
		return time.Time{}, invalid("until: %q is neither HH:MM nor an RFC 3339 time such as 2026-11-27T19:00:00+01:00", until)
	}
	if !t.After(now) {
		return time.Time{}, invalid("until: %s is not in the future", until)
	}
	return t, nil
}

// clock parses a 24-hour wall-clock time, "19:00" or "7:05".
func clock(s string) (hour, minute int, ok bool) {
	hs, ms, found := strings.Cut(s, ":")
	if !found || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 {
		return 0, 0, false
	}
	h, err1 := strconv.Atoi(hs)
	m, err2 := strconv.Atoi(ms)
	if err1 != nil || err2 != nil || hs[0] == '+' || hs[0] == '-' || ms[0] == '+' || ms[0] == '-' ||
		h > 23 || m > 59 {
		return 0, 0, false
	}
	return h, m, true
}

// nextClock returns the next time, strictly after now, that the clock in
// now's zone shows h:m: today if that is still ahead, else tomorrow. On a
// daylight saving day a time that does not exist is normalised forward by
// time.Date (02:30 becomes 03:30).
func nextClock(now time.Time, h, m int) time.Time {
	y, mo, d := now.Date()
	t := time.Date(y, mo, d, h, m, 0, 0, now.Location())
	if !t.After(now) {
		t = time.Date(y, mo, d+1, h, m, 0, 0, now.Location())
	}
	return t
}

// ParseDuration parses a Go duration ("90s", "1h30m") or whole days with
// an optional Go duration after them ("2d", "1d12h"): Go has no day unit,
// yet "pause for 2d" is how people say it.
func ParseDuration(s string) (time.Duration, error) {
	bad := func() (time.Duration, error) {
		return 0, invalid("invalid duration %q (want e.g. 30m, 1h30m or 2d)", s)
	}
	rest := s
	var days time.Duration
	if head, tail, ok := strings.Cut(s, "d"); ok {
		n, err := strconv.ParseUint(head, 10, 32)
		if err != nil || head == "" || head[0] == '+' {
			return bad()
		}
		if n > uint64(math.MaxInt64/int64(24*time.Hour)) {
			return 0, invalid("duration %q is too long", s)
		}
		days, rest = time.Duration(n)*24*time.Hour, tail
		if rest == "" {
			return days, nil
		}
		if rest[0] < '0' || rest[0] > '9' {
			return bad()
		}
	}
	d, err := time.ParseDuration(rest)
	if err != nil {
		return bad()
	}
	if d > math.MaxInt64-days {
		return 0, invalid("duration %q is too long", s)
	}
	return days + d, nil
}
