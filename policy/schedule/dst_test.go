package schedule

import (
	"testing"
	"time"
)

func utc(month time.Month, day, hour, min int) time.Time {
	return time.Date(2026, month, day, hour, min, 0, 0, time.UTC)
}

// TestDST pins one occurrence of a window on each 2026 clock change in
// London and New York, in real (UTC) instants and real duration.
//
//	London:   29 Mar 01:00Z, 01:00 GMT -> 02:00 BST; 25 Oct 01:00Z, 02:00 BST -> 01:00 GMT
//	New York:  8 Mar 07:00Z, 02:00 EST -> 03:00 EDT;  1 Nov 06:00Z, 02:00 EDT -> 01:00 EST
func TestDST(t *testing.T) {
	tests := []struct {
		name       string
		zone       string
		days       string
		from, to   string
		start, end time.Time
		real       time.Duration
	}{
		// Spring forward: a boundary the clocks jump over takes effect at the jump.
		{"london spring, start skipped", "Europe/London", "daily", "01:30", "03:00", utc(3, 29, 1, 0), utc(3, 29, 2, 0), time.Hour},
		{"london spring, end skipped", "Europe/London", "daily", "00:30", "01:30", utc(3, 29, 0, 30), utc(3, 29, 1, 0), 30 * time.Minute},
		{"london spring, across the gap", "Europe/London", "daily", "00:30", "02:30", utc(3, 29, 0, 30), utc(3, 29, 1, 30), time.Hour},
		{"london spring bedtime", "Europe/London", "sat", "21:00", "07:00", utc(3, 28, 21, 0), utc(3, 29, 6, 0), 9 * time.Hour},
		// Fall back: repeated times take effect the first time round.
		{"london fall, inside the repeat", "Europe/London", "daily", "01:00", "01:30", utc(10, 25, 0, 0), utc(10, 25, 0, 30), 30 * time.Minute},
		{"london fall, start repeated", "Europe/London", "daily", "01:30", "03:00", utc(10, 25, 0, 30), utc(10, 25, 3, 0), 150 * time.Minute},
		{"london fall, ends after the repeat", "Europe/London", "daily", "00:30", "02:00", utc(10, 24, 23, 30), utc(10, 25, 2, 0), 150 * time.Minute},
		{"london fall bedtime", "Europe/London", "sat", "21:00", "07:00", utc(10, 24, 20, 0), utc(10, 25, 7, 0), 11 * time.Hour},
		{"new york spring, start skipped", "America/New_York", "daily", "02:30", "03:30", utc(3, 8, 7, 0), utc(3, 8, 7, 30), 30 * time.Minute},
		{"new york spring, across the gap", "America/New_York", "daily", "01:00", "03:00", utc(3, 8, 6, 0), utc(3, 8, 7, 0), time.Hour},
		{"new york spring bedtime", "America/New_York", "sat", "21:00", "07:00", utc(3, 8, 2, 0), utc(3, 8, 11, 0), 9 * time.Hour},
		{"new york fall, start repeated", "America/New_York", "daily", "01:30", "02:30", utc(11, 1, 5, 30), utc(11, 1, 7, 30), 2 * time.Hour},
		{"new york fall, end repeated", "America/New_York", "daily", "00:00", "01:30", utc(11, 1, 4, 0), utc(11, 1, 5, 30), 90 * time.Minute},
		{"new york fall bedtime", "America/New_York", "sat", "21:00", "07:00", utc(11, 1, 1, 0), utc(11, 1, 12, 0), 11 * time.Hour},
		{"new york fall all day", "America/New_York", "sun", "00:00", "00:00", utc(11, 1, 4, 0), utc(11, 2, 5, 0), 25 * time.Hour},
		{"new york spring all day", "America/New_York", "sun", "00:00", "24:00", utc(3, 8, 5, 0), utc(3, 9, 4, 0), 23 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := tt.end.Sub(tt.start); d != tt.real {
				t.Fatalf("table: occurrence lasts %v, says %v", d, tt.real)
			}
			s := mustNew(t, mustLoc(t, tt.zone), win(t, tt.name, tt.days, tt.from, tt.to))
			check := func(at time.Time, want uint64, wantNext time.Time) {
				t.Helper()
				got, next := s.Active(at)
				if got != want || !next.Equal(wantNext) {
					t.Errorf("Active(%s) = %b, %s; want %b, %s",
						at.UTC().Format(time.RFC3339Nano), got, next.UTC(), want, wantNext.UTC())
				}
			}
			check(tt.start.Add(-time.Second), 0, tt.start)
			check(tt.start.Add(-time.Nanosecond), 0, tt.start)
			check(tt.start, 1, tt.end)
			check(tt.start.Add(tt.real/2), 1, tt.end)
			check(tt.end.Add(-time.Second), 1, tt.end)
			check(tt.end.Add(-time.Nanosecond), 1, tt.end)
			if got, _ := s.Active(tt.end); got != 0 {
				t.Errorf("Active(end %s) = %b, want 0", tt.end.UTC(), got)
			}
		})
	}
}

// TestDSTRepeatedHour checks the second pass through a repeated hour: what
// started in it the first time stays started, nothing starts again.
func TestDSTRepeatedHour(t *testing.T) {
	loc := mustLoc(t, "Europe/London")
	s := mustNew(t, loc,
		win(t, "first pass only", "daily", "01:00", "01:30"), // 1
		win(t, "through", "daily", "01:30", "03:00"),         // 2
	)
	tests := []struct {
		at   time.Time
		want uint64
		next time.Time
	}{
		{utc(10, 24, 23, 59), 0, utc(10, 25, 0, 0)}, // 00:59 BST
		{utc(10, 25, 0, 0), 1, utc(10, 25, 0, 30)},  // 01:00 BST
		{utc(10, 25, 0, 29), 1, utc(10, 25, 0, 30)}, // 01:29 BST
		{utc(10, 25, 0, 30), 2, utc(10, 25, 3, 0)},  // 01:30 BST
		{utc(10, 25, 0, 59), 2, utc(10, 25, 3, 0)},  // 01:59 BST
		{utc(10, 25, 1, 0), 2, utc(10, 25, 3, 0)},   // 01:00 GMT, the second time
		{utc(10, 25, 1, 10), 2, utc(10, 25, 3, 0)},  // 01:10 GMT: "first pass only" stays off
		{utc(10, 25, 1, 30), 2, utc(10, 25, 3, 0)},  // 01:30 GMT
		{utc(10, 25, 1, 59), 2, utc(10, 25, 3, 0)},  // 01:59 GMT
		{utc(10, 25, 2, 0), 2, utc(10, 25, 3, 0)},   // 02:00 GMT
		{utc(10, 25, 3, 0), 0, utc(10, 26, 1, 0)},   // 03:00 GMT
		{utc(10, 26, 1, 10), 1, utc(10, 26, 1, 30)}, // the next, ordinary day
		{utc(10, 24, 0, 10), 1, utc(10, 24, 0, 30)}, // 01:10 BST the day before
		{utc(10, 24, 2, 0).Add(-1), 2, utc(10, 24, 2, 0)},
	}
	for _, tt := range tests {
		got, next := s.Active(tt.at)
		if got != tt.want || !next.Equal(tt.next) {
			t.Errorf("Active(%s = %s) = %b, %s; want %b, %s", tt.at.UTC().Format(time.RFC3339Nano),
				tt.at.In(loc).Format("15:04 MST"), got, next.UTC(), tt.want, tt.next.UTC())
		}
	}
}

// TestDSTSkippedWindow: a window wholly inside a spring-forward gap does not
// happen that day, and next looks past it.
func TestDSTSkippedWindow(t *testing.T) {
	s := mustNew(t, mustLoc(t, "Europe/London"), win(t, "gap", "daily", "01:15", "01:45"))
	for _, at := range []time.Time{utc(3, 29, 0, 30), utc(3, 29, 0, 59), utc(3, 29, 1, 0)} {
		got, next := s.Active(at)
		if want := utc(3, 30, 0, 15); got != 0 || !next.Equal(want) {
			t.Errorf("Active(%s) = %b, %s; want 0, %s", at, got, next.UTC(), want)
		}
	}
	// Two windows that meet inside the gap both act at the jump: the set
	// changes from the first to the second at once.
	s = mustNew(t, mustLoc(t, "Europe/London"),
		win(t, "a", "daily", "00:00", "01:30"), win(t, "b", "daily", "01:30", "03:00"))
	if got, next := s.Active(utc(3, 29, 0, 59)); got != 1 || !next.Equal(utc(3, 29, 1, 0)) {
		t.Errorf("before the jump: %b, %s", got, next.UTC())
	}
	if got, next := s.Active(utc(3, 29, 1, 0)); got != 2 || !next.Equal(utc(3, 29, 2, 0)) {
		t.Errorf("at the jump: %b, %s", got, next.UTC())
	}
}
