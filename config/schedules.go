package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxSchedules bounds a profile's schedules; the policy keeps one bit per
// schedule (policy/schedule.MaxWindows).
const maxSchedules = 64

// schedules reads a profile's list of schedules. profile is the profile's
// part of messages (`profile "kids"`).
func (p *parser) schedules(n *yaml.Node, profile string, v vocabulary) []Schedule {
	items, _ := p.list(n, profile+": schedules")
	out := make([]Schedule, 0, len(items))
	seen := make(map[string]int, len(items))
	for i, it := range items {
		if i == maxSchedules {
			p.add(it.Line, "%s: schedules: too many (at most %d)", profile, maxSchedules)
			break
		}
		s, ok := p.schedule(it, profile, v)
		if !ok {
			continue
		}
		if first, dup := seen[s.Name]; dup {
			p.add(it.Line, "%s: schedule %q: duplicate name (also at line %d)", profile, s.Name, first)
			continue
		}
		seen[s.Name] = it.Line
		out = append(out, s)
	}
	return out
}

// schedule reads one schedule: {name, days, from, to, block, allow}.
func (p *parser) schedule(n *yaml.Node, profile string, v vocabulary) (Schedule, bool) {
	if n.Kind != yaml.MappingNode {
		p.add(n.Line, "%s: schedules: expected a mapping, got %s", profile, describe(n))
		return Schedule{}, false
	}
	// Messages name the schedule wherever its name is written.
	what := profile + ": schedule"
	if name, ok := scalarKey(n, "name"); ok && name != "" {
		what = fmt.Sprintf("%s: schedule %q", profile, name)
	}
	var (
		s               Schedule
		ok              = true
		have            = make(map[string]bool)
		blocks, allows  int
		keys            = []string{"name", "days", "from", "to", "block", "allow"}
		daysOK, clockOK = true, true
	)
	p.mapping(n, what, keys, func(key string, k, val *yaml.Node) {
		if isNull(val) {
			return
		}
		have[key] = true
		kw := what + ": " + key
		switch key {
		case "name":
			name, good := p.str(val, kw)
			if good && !validCategory(name) {
				p.add(val.Line, "%s: invalid name (want a lower-case letter, then up to 31 lower-case letters, digits, _ or -)", what)
				good = false
			}
			s.Name, ok = name, ok && good
		case "days":
			s.Days, daysOK = p.days(val, kw)
		case "from", "to":
			str, good := p.str(val, kw)
			if !good {
				clockOK = false
				return
			}
			c, err := parseClock(str, key == "to")
			if err != nil {
				p.add(val.Line, "%s: %q: %v", kw, str, err)
				clockOK = false
				return
			}
			if key == "from" {
				s.From = c
			} else {
				s.To = c
			}
		case "block":
			items, _ := p.strings(val, kw)
			blocks = len(items)
			s.Block, s.BlockAll = p.policyNames(items, v, what, true)
		case "allow":
			items, _ := p.strings(val, kw)
			allows = len(items)
			s.Unblock, _ = p.policyNames(items, v, what, false)
		}
	})
	for _, key := range []string{"name", "days", "from", "to"} {
		if !have[key] {
			p.add(n.Line, "%s: %s is required", what, key)
			ok = false
		}
	}
	if blocks+allows == 0 {
		p.add(n.Line, "%s: needs block or allow (what changes while it is active)", what)
		ok = false
	}
	return s, ok && daysOK && clockOK
}

// scalarKey returns the value of key in mapping n if it is a plain scalar,
// without resolving aliases (which would count against the alias limit).
func scalarKey(n *yaml.Node, key string) (string, bool) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == key && v.Kind == yaml.ScalarNode && v.ShortTag() != "!!null" {
			return v.Value, true
		}
	}
	return "", false
}

// days reads day names into a set indexed by time.Weekday, with the rules
// of policy/schedule.ParseDays: mon to sun or the full names, weekdays,
// weekends, daily or all, in any case; the result is their union.
func (p *parser) days(n *yaml.Node, what string) ([7]bool, bool) {
	var set [7]bool
	items, ok := p.strings(n, what)
	if ok && len(items) == 0 {
		p.add(n.Line, "%s: none given", what)
		return set, false
	}
	for _, it := range items {
		d, known := namedDays(it.s)
		if !known {
			p.add(it.line, "%s: unknown day %q (want mon to sun, weekdays, weekends or daily)", what, it.s)
			ok = false
			continue
		}
		for i := range set {
			set[i] = set[i] || d[i]
		}
	}
	return set, ok
}

// namedDays is the set of days a name stands for. It is a copy of
// policy/schedule's namedDays, kept because config imports nothing of
// Haven's: the two must accept the same names and give the same sets
// (TestDaysAgree in policy/schedule checks it).
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

// parseClock reads H:MM or HH:MM and returns it as HH:MM. 24:00 is allowed
// only as an end (end), meaning midnight at the end of the day.
func parseClock(s string, end bool) (string, error) {
	h, m, ok := strings.Cut(s, ":")
	hour, minute := digits(h), digits(m)
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 || hour < 0 || minute < 0 {
		return "", errors.New("want HH:MM (24-hour clock)")
	}
	switch {
	case end && hour == 24 && minute == 0:
	case end && (hour > 23 || minute > 59):
		return "", errors.New("out of range 00:00 to 24:00")
	case hour > 23 || minute > 59:
		return "", errors.New("out of range 00:00 to 23:59")
	}
	return fmt.Sprintf("%02d:%02d", hour, minute), nil
}

// digits is the value of a short run of ASCII digits, or -1 (strconv.Atoi
// would also take signs).
func digits(s string) int {
	if s == "" || len(s) > 2 {
		return -1
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// dayNames prints a day set the way it can be written back.
func dayNames(days [7]bool) string {
	for _, short := range []string{"daily", "weekdays", "weekends"} {
		if d, _ := namedDays(short); d == days {
			return short
		}
	}
	abbr := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	var out []string
	for i, on := range days {
		if on {
			out = append(out, abbr[i])
		}
	}
	return strings.Join(out, ", ")
}
