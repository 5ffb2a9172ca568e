package state

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// household is what the snapshot tests look at: the device kid-ipad in
// the profile kids, plus another profile's device.
func household() []Entry {
	return []Entry{
		{ID: "p1", Target: "kid-ipad", Kind: Pause, Until: t0.Add(time.Hour)},
		{ID: "p1b", Target: "kid-ipad", Kind: Pause, Until: t0.Add(90 * time.Minute)}, // overlapping: the later end counts
		{ID: "p2", Target: "kids", Kind: Pause, Until: t0.Add(2 * time.Hour)},
		{ID: "a1", Target: "kid-ipad", Kind: Allow, What: "youtube", Until: t0.Add(30 * time.Minute)},
		{ID: "a1b", Target: "kid-ipad", Kind: Allow, What: "youtube", Until: t0.Add(20 * time.Minute)},
		{ID: "a2", Target: "kids", Kind: Allow, What: "youtube", Until: t0.Add(time.Hour)},
		{ID: "a3", Target: "kids", Kind: Allow, What: "khanacademy.org", Until: t0.Add(3 * time.Hour)},
		{ID: "a4", Target: "teen-phone", Kind: Allow, What: "games", Until: t0.Add(45 * time.Minute)},
		{ID: "old", Target: "teen-phone", Kind: Pause, Until: t0.Add(-time.Minute)}, // ended before the build
		{ID: "odd", Target: "teen-phone", Kind: "future-kind", Until: t0.Add(time.Hour)},
	}
}

func TestSnapshotPaused(t *testing.T) {
	s := NewSnapshot(household(), t0)
	const ns = time.Nanosecond
	for _, tc := range []struct {
		target string
		at     time.Duration // after t0
		want   time.Duration // until, after t0; 0 = not paused
	}{
		{"kid-ipad", 0, 90 * time.Minute},
		{"kid-ipad", time.Hour, 90 * time.Minute}, // p1 over, p1b holds
		{"kid-ipad", 90*time.Minute - ns, 90 * time.Minute},
		{"kid-ipad", 90 * time.Minute, 0},
		{"kids", 0, 2 * time.Hour},
		{"kids", 2*time.Hour - ns, 2 * time.Hour},
		{"kids", 2 * time.Hour, 0},
		{"kids", 2*time.Hour + ns, 0},
		{"teen-phone", 0, 0}, // its pause ended before the build
		{"teen-phone", -2 * time.Minute, 0},
		{"nobody", 0, 0},
		{"", 0, 0},
	} {
		t.Run(fmt.Sprintf("%s@%v", tc.target, tc.at), func(t *testing.T) {
			until, ok := s.Paused(tc.target, t0.Add(tc.at))
			if ok != (tc.want != 0) || (ok && !until.Equal(t0.Add(tc.want))) {
				t.Errorf("Paused = %v, %v; want paused %v until t0+%v", until, ok, tc.want != 0, tc.want)
			}
		})
	}
}

func TestSnapshotAllowed(t *testing.T) {
	s := NewSnapshot(household(), t0)
	const ns = time.Nanosecond
	for _, tc := range []struct {
		target, what string
		at, want     time.Duration // want 0 = not allowed
	}{
		{"kid-ipad", "youtube", 0, 30 * time.Minute},
		{"kid-ipad", "youtube", 30*time.Minute - ns, 30 * time.Minute},
		{"kid-ipad", "youtube", 30 * time.Minute, 0},
		{"kids", "youtube", 30 * time.Minute, time.Hour}, // the profile's grant outlives the device's
		{"kids", "youtube", time.Hour, 0},
		{"kids", "khanacademy.org", 2 * time.Hour, 3 * time.Hour},
		{"kid-ipad", "khanacademy.org", 0, 0}, // granted to the profile, not the device: the caller asks both
		{"kids", "KhanAcademy.org", 0, 0},     // compared exactly
		{"teen-phone", "games", 0, 45 * time.Minute},
		{"teen-phone", "youtube", 0, 0},
		{"nobody", "youtube", 0, 0},
	} {
		t.Run(fmt.Sprintf("%s/%s@%v", tc.target, tc.what, tc.at), func(t *testing.T) {
			until, ok := s.Allowed(tc.target, tc.what, t0.Add(tc.at))
			if ok != (tc.want != 0) || (ok && !until.Equal(t0.Add(tc.want))) {
				t.Errorf("Allowed = %v, %v; want allowed %v until t0+%v", until, ok, tc.want != 0, tc.want)
			}
		})
	}
}

func TestSnapshotExceptionsAndPauses(t *testing.T) {
	s := NewSnapshot(household(), t0)
	for _, tc := range []struct {
		name   string
		get    func(target string, now time.Time) []Entry
		target string
		at     time.Duration
		want   []string
	}{
		{"exceptions", s.Exceptions, "kid-ipad", 0, []string{"a1", "a1b"}},
		{"exceptions", s.Exceptions, "kid-ipad", 25 * time.Minute, []string{"a1"}},
		{"exceptions", s.Exceptions, "kid-ipad", 30 * time.Minute, nil},
		{"exceptions", s.Exceptions, "kids", 0, []string{"a3", "a2"}},
		{"exceptions", s.Exceptions, "kids", time.Hour, []string{"a3"}},
		{"exceptions", s.Exceptions, "teen-phone", 0, []string{"a4"}},
		{"exceptions", s.Exceptions, "nobody", 0, nil},
		{"pauses", s.Pauses, "kid-ipad", 0, []string{"p1b", "p1"}},
		{"pauses", s.Pauses, "kid-ipad", time.Hour, []string{"p1b"}},
		{"pauses", s.Pauses, "teen-phone", 0, nil},
	} {
		t.Run(fmt.Sprintf("%s/%s@%v", tc.name, tc.target, tc.at), func(t *testing.T) {
			got := tc.get(tc.target, t0.Add(tc.at))
			if !slices.Equal(ids(got), tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("got %v, want %v", ids(got), tc.want)
			}
			if cap(got) != len(got) {
				t.Errorf("cap %d > len %d: an append would write into the snapshot", cap(got), len(got))
			}
		})
	}
}

func TestSnapshotNextExpiry(t *testing.T) {
	s := NewSnapshot(household(), t0)
	for _, tc := range []struct {
		at, want time.Duration // want 0 = none
	}{
		{-time.Hour, 20 * time.Minute}, // the ended pause is not in the snapshot
		{0, 20 * time.Minute},
		{20 * time.Minute, 30 * time.Minute},
		{30 * time.Minute, 45 * time.Minute},
		{45 * time.Minute, time.Hour},
		{time.Hour, 90 * time.Minute},
		{2*time.Hour + time.Second, 3 * time.Hour},
		{3 * time.Hour, 0},
	} {
		next, ok := s.NextExpiry(t0.Add(tc.at))
		if ok != (tc.want != 0) || (ok && !next.Equal(t0.Add(tc.want))) {
			t.Errorf("NextExpiry(t0+%v) = %v, %v; want t0+%v", tc.at, next, ok, tc.want)
		}
	}
}

func TestSnapshotEmpty(t *testing.T) {
	for name, s := range map[string]*Snapshot{"nil": nil, "no entries": NewSnapshot(nil, t0)} {
		t.Run(name, func(t *testing.T) {
			if _, ok := s.Paused("kids", t0); ok {
				t.Error("Paused")
			}
			if _, ok := s.Allowed("kids", "youtube", t0); ok {
				t.Error("Allowed")
			}
			if s.Exceptions("kids", t0) != nil || s.Pauses("kids", t0) != nil {
				t.Error("Exceptions or Pauses not empty")
			}
			if _, ok := s.NextExpiry(t0); ok {
				t.Error("NextExpiry")
			}
		})
	}
}

// TestSnapshotFromStore: what a store lists, a snapshot answers, for a
// device and its profile alike.
func TestSnapshotFromStore(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			c := newClock()
			st := sk.open(t, c)
			fixture(t, st, c)
			s := NewSnapshot(list(t, st), c.Now())
			if u, ok := s.Paused("kid-ipad", t0); !ok || !u.Equal(t0.Add(time.Hour)) {
				t.Errorf("device: Paused = %v, %v", u, ok)
			}
			if u, ok := s.Paused("kids", t0); !ok || !u.Equal(t0.Add(2*time.Hour)) {
				t.Errorf("profile: Paused = %v, %v", u, ok)
			}
			if u, ok := s.Allowed("kids", "khanacademy.org", t0); !ok || !u.Equal(t0.Add(3*time.Hour)) {
				t.Errorf("profile: Allowed = %v, %v", u, ok)
			}
		})
	}
}

func benchSnapshot(b *testing.B) *Snapshot {
	var es []Entry
	for i := range 200 { // far more than a household
		es = append(es,
			Entry{ID: fmt.Sprint("p", i), Target: fmt.Sprint("dev", i), Kind: Pause, Until: t0.Add(time.Duration(i+1) * time.Minute)},
			Entry{ID: fmt.Sprint("a", i), Target: fmt.Sprint("dev", i), Kind: Allow, What: "youtube", Until: t0.Add(time.Hour)},
			Entry{ID: fmt.Sprint("b", i), Target: fmt.Sprint("dev", i), Kind: Allow, What: "khanacademy.org", Until: t0.Add(2 * time.Hour)})
	}
	return NewSnapshot(es, t0)
}

func BenchmarkSnapshotPaused(b *testing.B) {
	s := benchSnapshot(b)
	now := t0.Add(30 * time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		s.Paused("dev100", now)
		s.Paused("profile-without-entries", now)
	}
}

func BenchmarkSnapshotAllowed(b *testing.B) {
	s := benchSnapshot(b)
	now := t0.Add(30 * time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		s.Allowed("dev100", "youtube", now)
		s.Allowed("dev100", "tiktok", now)
	}
}

func BenchmarkSnapshotExceptions(b *testing.B) {
	s := benchSnapshot(b)
	now := t0.Add(90 * time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		s.Exceptions("dev100", now)
	}
}

// TestSnapshotLookupsDoNotAllocate holds the query path to its promise
// in every test run, not only when benchmarks are read.
func TestSnapshotLookupsDoNotAllocate(t *testing.T) {
	s := NewSnapshot(household(), t0)
	now := t0.Add(10 * time.Minute)
	n := testing.AllocsPerRun(100, func() {
		s.Paused("kid-ipad", now)
		s.Allowed("kids", "youtube", now)
		s.Exceptions("kids", now)
		s.Pauses("kids", now)
		s.NextExpiry(now)
	})
	if n != 0 {
		t.Errorf("lookups allocate %v times", n)
	}
}
