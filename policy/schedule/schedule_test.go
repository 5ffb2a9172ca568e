package schedule

import (
	"strings"
	"testing"
	"time"
)

func mustLoc(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

// win builds a window from config-style strings: days comma-separated.
func win(tb testing.TB, name, days, from, to string) Window {
	tb.Helper()
	d, err := ParseDays(strings.Split(days, ","))
	if err != nil {
		tb.Fatal(err)
	}
	f, err := ParseClock(from)
	if err != nil {
		tb.Fatal(err)
	}
	u, err := ParseClock(to)
	if err != nil {
		tb.Fatal(err)
	}
	return Window{Name: name, Days: d, From: f, To: u}
}

func mustNew(tb testing.TB, loc *time.Location, windows ...Window) *Schedule {
	tb.Helper()
	s, err := New(loc, windows)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// local parses a wall-clock time that exists exactly once in loc.
func local(tb testing.TB, loc *time.Location, s string) time.Time {
	tb.Helper()
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", s, loc)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// step is one query: at the instant "at", want is the active set and next
// the instant it changes ("+8d" for the horizon).
type step struct {
	at   string
	want uint64
	next string
}

func TestActive(t *testing.T) {
	tests := []struct {
		name    string
		zone    string
		windows func(testing.TB) []Window
		steps   []step
	}{{
		// January 2026: Sunday the 4th to Sunday the 11th, no clock changes.
		name: "family week",
		zone: "Europe/London",
		windows: func(tb testing.TB) []Window {
			return []Window{
				win(tb, "bedtime", "sun,mon,tue,wed,thu", "21:00", "07:00"), // 1
				win(tb, "homework", "weekdays", "16:00", "18:00"),           // 2
				win(tb, "screens", "mon", "17:00", "19:00"),                 // 4, overlaps homework
			}
		},
		steps: []step{
			{"2026-01-04 20:59:59", 0, "2026-01-04 21:00:00"},
			{"2026-01-04 21:00:00", 1, "2026-01-05 07:00:00"},
			{"2026-01-04 21:00:00.000000001", 1, "2026-01-05 07:00:00"},
			{"2026-01-05 00:00:00", 1, "2026-01-05 07:00:00"},
			{"2026-01-05 06:59:59.999999999", 1, "2026-01-05 07:00:00"},
			{"2026-01-05 07:00:00", 0, "2026-01-05 16:00:00"},
			{"2026-01-05 07:00:01", 0, "2026-01-05 16:00:00"},
			{"2026-01-05 15:59:59", 0, "2026-01-05 16:00:00"},
			{"2026-01-05 16:00:00", 2, "2026-01-05 17:00:00"},
			{"2026-01-05 17:00:00", 2 | 4, "2026-01-05 18:00:00"},
			{"2026-01-05 17:59:59", 2 | 4, "2026-01-05 18:00:00"},
			{"2026-01-05 18:00:00", 4, "2026-01-05 19:00:00"},
			{"2026-01-05 19:00:00", 0, "2026-01-05 21:00:00"},
			{"2026-01-06 16:30:00", 2, "2026-01-06 18:00:00"},
			{"2026-01-08 23:00:00", 1, "2026-01-09 07:00:00"},
			// Friday is not a bedtime day, but Thursday's runs into it.
			{"2026-01-09 06:00:00", 1, "2026-01-09 07:00:00"},
			{"2026-01-09 17:00:00", 2, "2026-01-09 18:00:00"},
			{"2026-01-09 18:00:00", 0, "2026-01-11 21:00:00"},
			{"2026-01-10 03:00:00", 0, "2026-01-11 21:00:00"},
			{"2026-01-11 06:00:00", 0, "2026-01-11 21:00:00"},
		},
	}, {
		name: "morning after a day not in Days",
		zone: "America/New_York",
		windows: func(tb testing.TB) []Window {
			return []Window{win(tb, "bedtime", "sun", "21:00", "07:00")}
		},
		steps: []step{
			{"2026-01-05 06:59:59", 1, "2026-01-05 07:00:00"}, // Monday
			{"2026-01-05 07:00:00", 0, "2026-01-11 21:00:00"},
			{"2026-01-04 06:59:59", 0, "2026-01-04 21:00:00"}, // Sunday morning: Saturday is off
		},
	}, {
		name: "saturday night wraps into sunday",
		zone: "Europe/London",
		windows: func(tb testing.TB) []Window {
			return []Window{win(tb, "late", "sat", "21:00", "07:00")}
		},
		steps: []step{
			{"2026-01-10 20:00:00", 0, "2026-01-10 21:00:00"},
			{"2026-01-10 23:59:59", 1, "2026-01-11 07:00:00"},
			{"2026-01-11 00:00:00", 1, "2026-01-11 07:00:00"},
			{"2026-01-11 07:00:00", 0, "2026-01-17 21:00:00"},
		},
	}, {
		name: "several windows a day",
		zone: "Europe/London",
		windows: func(tb testing.TB) []Window {
			return []Window{
				win(tb, "breakfast", "daily", "07:00", "08:00"),
				win(tb, "lunch", "daily", "12:00", "13:00"),
				win(tb, "dinner", "daily", "18:00", "19:00"),
				win(tb, "afternoon", "daily", "13:00", "18:00"), // touches lunch and dinner
			}
		},
		steps: []step{
			{"2026-01-06 07:30:00", 1, "2026-01-06 08:00:00"},
			{"2026-01-06 08:00:00", 0, "2026-01-06 12:00:00"},
			{"2026-01-06 12:59:59", 2, "2026-01-06 13:00:00"},
			{"2026-01-06 13:00:00", 8, "2026-01-06 18:00:00"},
			{"2026-01-06 18:00:00", 4, "2026-01-06 19:00:00"},
			{"2026-01-06 19:00:00", 0, "2026-01-07 07:00:00"},
		},
	}, {
		name: "identical windows",
		zone: "UTC",
		windows: func(tb testing.TB) []Window {
			return []Window{win(tb, "a", "daily", "10:00", "11:00"), win(tb, "b", "daily", "10:00", "11:00")}
		},
		steps: []step{
			{"2026-01-06 10:00:00", 3, "2026-01-06 11:00:00"},
			{"2026-01-06 11:00:00", 0, "2026-01-07 10:00:00"},
		},
	}, {
		name: "all day saturday",
		zone: "Europe/London",
		windows: func(tb testing.TB) []Window {
			return []Window{
				win(tb, "sat", "sat", "00:00", "00:00"),
				win(tb, "sat24", "sat", "00:00", "24:00"),
				win(tb, "from7", "sat", "07:00", "07:00"),
			}
		},
		steps: []step{
			{"2026-01-09 23:59:59", 0, "2026-01-10 00:00:00"},
			{"2026-01-10 00:00:00", 3, "2026-01-10 07:00:00"},
			{"2026-01-10 07:00:00", 7, "2026-01-11 00:00:00"},
			{"2026-01-10 23:59:59", 7, "2026-01-11 00:00:00"},
			{"2026-01-11 00:00:00", 4, "2026-01-11 07:00:00"},
			{"2026-01-11 07:00:00", 0, "2026-01-17 00:00:00"},
		},
	}, {
		// The window ends Monday midnight and starts again then: one span.
		name: "back to back days merge",
		zone: "Europe/London",
		windows: func(tb testing.TB) []Window {
			return []Window{win(tb, "long weekend", "sun,mon", "00:00", "24:00")}
		},
		steps: []step{
			{"2026-01-04 12:00:00", 1, "2026-01-06 00:00:00"},
			{"2026-01-06 00:00:00", 0, "2026-01-11 00:00:00"},
		},
	}, {
		name: "ends at 24:00 then another starts",
		zone: "Europe/London",
		windows: func(tb testing.TB) []Window {
			return []Window{win(tb, "late", "mon", "22:00", "24:00"), win(tb, "night", "tue", "00:00", "06:00")}
		},
		steps: []step{
			{"2026-01-05 23:59:59", 1, "2026-01-06 00:00:00"},
			{"2026-01-06 00:00:00", 2, "2026-01-06 06:00:00"},
		},
	}, {
		name:    "always",
		zone:    "Europe/London",
		windows: func(tb testing.TB) []Window { return []Window{win(tb, "always", "daily", "07:00", "07:00")} },
		steps:   []step{{"2026-01-06 07:00:00", 1, "+8d"}, {"2026-01-06 06:59:59", 1, "+8d"}},
	}, {
		name:    "no windows",
		zone:    "Europe/London",
		windows: func(testing.TB) []Window { return nil },
		steps:   []step{{"2026-01-06 07:00:00", 0, "+8d"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := mustLoc(t, tt.zone)
			s := mustNew(t, loc, tt.windows(t)...)
			for _, st := range tt.steps {
				at := local(t, loc, st.at)
				want := at.Add(horizon)
				if st.next != "+8d" {
					want = local(t, loc, st.next)
				}
				got, next := s.Active(at)
				if got != st.want || !next.Equal(want) {
					t.Errorf("Active(%s) = %b, %s; want %b, %s", at, got, next, st.want, want)
				}
			}
		})
	}
}

// TestActiveNextExact is the TTL-cap requirement: a second before bedtime
// the answer must live at most one second.
func TestActiveNextExact(t *testing.T) {
	loc := mustLoc(t, "Europe/London")
	s := mustNew(t, loc, win(t, "bedtime", "sun,mon,tue,wed,thu", "21:00", "07:00"))
	for _, at := range []string{"2026-01-05 20:59:59", "2026-01-06 06:59:59", "2026-07-05 20:59:59"} {
		tm := local(t, loc, at)
		if _, next := s.Active(tm); next.Sub(tm) != time.Second {
			t.Errorf("Active(%s): next - t = %v, want 1s", tm, next.Sub(tm))
		}
	}
}

func TestActiveAnyInputLocation(t *testing.T) {
	s := mustNew(t, mustLoc(t, "Europe/London"), win(t, "homework", "mon", "16:00", "18:00"))
	// The same instant given in different locations gives the same answer.
	utc := time.Date(2026, 7, 6, 15, 0, 0, 0, time.UTC) // 16:00 BST, Monday
	for _, at := range []time.Time{utc, utc.In(mustLoc(t, "Asia/Tokyo")), utc.In(time.FixedZone("x", -11*3600))} {
		got, next := s.Active(at)
		if got != 1 || !next.Equal(utc.Add(2*time.Hour)) {
			t.Errorf("Active(%s) = %b, %s", at, got, next)
		}
		if next.Location() != s.Location() {
			t.Errorf("next in %v, want %v", next.Location(), s.Location())
		}
	}
}

func BenchmarkActive(b *testing.B) {
	london := mustLoc(b, "Europe/London")
	family := []Window{
		win(b, "bedtime", "sun,mon,tue,wed,thu", "21:00", "07:00"),
		win(b, "weekend bedtime", "fri,sat", "22:30", "08:00"),
		win(b, "homework", "weekdays", "16:00", "18:00"),
		win(b, "screens", "mon,wed", "17:00", "19:00"),
		win(b, "dinner", "daily", "18:30", "19:15"),
	}
	many := make([]Window, MaxWindows)
	for i := range many {
		many[i] = Window{Days: [7]bool{i%7 == 0, true, i%3 == 0, true, false, true, true},
			From: Clock{i % 24, (i * 7) % 60}, To: Clock{(i*5 + 3) % 24, (i * 11) % 60}}
	}
	bench := func(name string, s *Schedule, from time.Time) {
		// Instants spread over a week, so every segment is hit.
		var at [1024]time.Time
		for i := range at {
			at[i] = from.Add(time.Duration(i) * 7 * 24 * time.Hour / time.Duration(len(at)))
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s.Active(at[i%len(at)])
				i++
			}
		})
	}
	bench("family", mustNew(b, london, family...), time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC))
	bench("family-dst-week", mustNew(b, london, family...), time.Date(2026, 3, 26, 0, 0, 0, 0, time.UTC))
	bench("64-windows", mustNew(b, london, many...), time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC))
	bench("utc", mustNew(b, time.UTC, family...), time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC))
}

// TestActiveExtremes: far-off instants and odd zones answer sensibly
// instead of panicking or looping.
func TestActiveExtremes(t *testing.T) {
	windows := []Window{win(t, "bedtime", "sun,mon,tue,wed,thu", "21:00", "07:00"), win(t, "x", "sat", "01:30", "02:30")}
	for _, zone := range []string{"Europe/London", "Europe/Amsterdam", "America/Santiago", "UTC"} {
		s := mustNew(t, mustLoc(t, zone), windows...)
		for _, at := range []time.Time{
			{},
			time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), // before zones had DST; local mean time offsets
			time.Date(1937, 7, 1, 0, 0, 0, 0, time.UTC), // Amsterdam at +00:20
			time.Unix(0, 0),
			time.Date(2500, 3, 30, 0, 0, 0, 0, time.UTC), // past the zone table: rules only
			time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		} {
			_, next := s.Active(at)
			if !next.After(at) || next.Sub(at) > horizon {
				t.Errorf("%s: Active(%s): next %s", zone, at, next)
			}
		}
	}
}
