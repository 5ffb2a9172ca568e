package api

import (
	"errors"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin on systems without a zone database
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30m", 30 * time.Minute, true},
		{"1h30m", 90 * time.Minute, true},
		{"90s", 90 * time.Second, true},
		{"2d", 48 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"0d30m", 30 * time.Minute, true},
		{"-30m", -30 * time.Minute, true}, // parsed; expiry rejects it
		{"", 0, false},
		{"30", 0, false},
		{"d", 0, false},
		{"1dd", 0, false},
		{"+1d", 0, false},
		{"-1d", 0, false},
		{"1d-1h", 0, false},
		{"1.5d", 0, false},
		{"1d 2h", 0, false},
		{"106752d", 0, false}, // beyond time.Duration
		{"106751d24h", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestClock(t *testing.T) {
	tests := []struct {
		in   string
		h, m int
		ok   bool
	}{
		{"19:00", 19, 0, true},
		{"7:05", 7, 5, true},
		{"00:00", 0, 0, true},
		{"23:59", 23, 59, true},
		{"24:00", 0, 0, false},
		{"12:60", 0, 0, false},
		{"12:5", 0, 0, false},
		{"123:00", 0, 0, false},
		{"+1:00", 0, 0, false},
		{"1:+0", 0, 0, false},
		{"19:00:00", 0, 0, false},
		{"19h", 0, 0, false},
		{":30", 0, 0, false},
	}
	for _, tt := range tests {
		h, m, ok := clock(tt.in)
		if ok != tt.ok || h != tt.h || m != tt.m {
			t.Errorf("clock(%q) = %d, %d, %v; want %d, %d, %v", tt.in, h, m, ok, tt.h, tt.m, tt.ok)
		}
	}
}

func TestExpiryAcrossDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		now   time.Time
		until string
		want  time.Time
	}{
		// On 29 March 2026 clocks go from 02:00 to 03:00: "tomorrow 19:00"
		// is 23 hours away, not 24.
		{"tomorrow across spring forward", time.Date(2026, 3, 28, 20, 0, 0, 0, berlin), "19:00",
			time.Date(2026, 3, 29, 19, 0, 0, 0, berlin)},
		// 02:30 does not exist that night; it comes out as 03:30 CEST.
		{"missing hour", time.Date(2026, 3, 29, 1, 0, 0, 0, berlin), "02:30",
			time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := expiry(tt.now, "", tt.until)
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("expiry(%v, until %s) = %v, %v; want %v", tt.now, tt.until, got, err, tt.want)
			}
			if got.Hour() != 19 && tt.until == "19:00" {
				t.Errorf("wall clock %v, want 19:00", got)
			}
		})
	}
}

func TestExpiryFor(t *testing.T) {
	now := testNow()
	got, err := expiry(now, "2d", "")
	if err != nil || !got.Equal(now.Add(48*time.Hour)) {
		t.Errorf("for 2d: %v, %v", got, err)
	}
	got, err = expiry(now, "", "2026-11-27T18:00:01+01:00")
	if err != nil || !got.Equal(now.Add(time.Second)) {
		t.Errorf("until one second ahead: %v, %v", got, err)
	}
	if _, err := expiry(now, "", "2026-11-27T18:00:00+01:00"); !errors.Is(err, ErrInvalid) {
		t.Errorf("until now: %v, want ErrInvalid", err)
	}
}
