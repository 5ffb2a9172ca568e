package state

import (
	"cmp"
	"slices"
	"sort"
	"time"
)

// Snapshot is an immutable view of the entries in force, built once from
// Store.List and read by every query, so its lookups neither lock nor
// allocate. Entries can end while a snapshot is in use: every lookup takes
// the time and answers for it. Entries made later are not seen; whoever
// changes the store builds a new snapshot, and so does the daemon at
// NextExpiry and, with a shared store, periodically.
//
// A nil *Snapshot has no entries.
type Snapshot struct {
	targets map[string]*targetState
	ends    []time.Time // every Until, ascending, for NextExpiry
}

// targetState holds one target's entries, latest-ending first, so that
// those still in force at any later time are a prefix.
type targetState struct {
	pauses, allows []Entry
	allowed        map[string]time.Time // latest Until per What
}

// NewSnapshot builds a snapshot of the entries in force at now. Entries
// that have ended by now, and any of an unknown kind, are left out.
func NewSnapshot(entries []Entry, now time.Time) *Snapshot {
	s := &Snapshot{targets: make(map[string]*targetState)}
	for _, e := range entries {
		if !e.Active(now) {
			continue
		}
		ts := s.targets[e.Target]
		if ts == nil {
			ts = &targetState{}
			s.targets[e.Target] = ts
		}
		switch e.Kind {
		case Pause:
			ts.pauses = append(ts.pauses, e)
		case Allow:
			ts.allows = append(ts.allows, e)
			if ts.allowed == nil {
				ts.allowed = make(map[string]time.Time)
			}
			// Overlapping grants all began before now, so together they
			// last until the latest of them ends.
			if u, ok := ts.allowed[e.What]; !ok || e.Until.After(u) {
				ts.allowed[e.What] = e.Until
			}
		default:
			continue
		}
		s.ends = append(s.ends, e.Until)
	}
	for _, ts := range s.targets {
		sortByEnd(ts.pauses)
		sortByEnd(ts.allows)
	}
	slices.SortFunc(s.ends, time.Time.Compare)
	return s
}

// sortByEnd orders entries latest-ending first (ties: by What, then ID, for
// stable explanations).
func sortByEnd(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int {
		if c := b.Until.Compare(a.Until); c != 0 {
			return c
		}
		if c := cmp.Compare(a.What, b.What); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// Paused reports whether target is paused at now, and until when.
func (s *Snapshot) Paused(target string, now time.Time) (until time.Time, ok bool) {
	if s == nil {
		return time.Time{}, false
	}
	ts := s.targets[target]
	if ts == nil || len(ts.pauses) == 0 || !ts.pauses[0].Active(now) {
		return time.Time{}, false
	}
	return ts.pauses[0].Until, true
}

// Allowed reports whether what (a category, service or domain, compared
// exactly as it was stored) is granted to target at now, and until when.
func (s *Snapshot) Allowed(target, what string, now time.Time) (until time.Time, ok bool) {
	if s == nil {
		return time.Time{}, false
	}
	ts := s.targets[target]
	if ts == nil {
		return time.Time{}, false
	}
	u, ok := ts.allowed[what]
	if !ok || !now.Before(u) {
		return time.Time{}, false
	}
	return u, true
}

// Exceptions returns the Allow entries of target in force at now,
// latest-ending first. The slice is shared by every caller and must not be
// modified; returning it costs no allocation, so the query path may call
// this for every query.
func (s *Snapshot) Exceptions(target string, now time.Time) []Entry {
	if s == nil {
		return nil
	}
	if ts := s.targets[target]; ts != nil {
		return inForce(ts.allows, now)
	}
	return nil
}

// Pauses returns the Pause entries of target in force at now, latest-ending
// first, for explanations (who paused, and when). Like Exceptions, the
// slice is shared and must not be modified.
func (s *Snapshot) Pauses(target string, now time.Time) []Entry {
	if s == nil {
		return nil
	}
	if ts := s.targets[target]; ts != nil {
		return inForce(ts.pauses, now)
	}
	return nil
}

// inForce returns the prefix of es (latest-ending first) still active at
// now, with its capacity cut so that an append cannot write into es.
func inForce(es []Entry, now time.Time) []Entry {
	n := sort.Search(len(es), func(i int) bool { return !es[i].Active(now) })
	if n == 0 {
		return nil
	}
	return es[:n:n]
}

// NextExpiry returns the earliest end of an entry after now: when the
// snapshot next changes meaning, so when to build the next one, and how
// long any answer may be cached before that.
func (s *Snapshot) NextExpiry(now time.Time) (time.Time, bool) {
	if s == nil {
		return time.Time{}, false
	}
	i := sort.Search(len(s.ends), func(i int) bool { return s.ends[i].After(now) })
	if i == len(s.ends) {
		return time.Time{}, false
	}
	return s.ends[i], true
}
