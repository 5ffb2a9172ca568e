package schedule

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseClock(t *testing.T) {
	tests := []struct {
		in      string
		want    Clock
		wantErr bool
	}{
		{in: "21:00", want: Clock{21, 0}},
		{in: "7:05", want: Clock{7, 5}},
		{in: "07:05", want: Clock{7, 5}},
		{in: "0:00", want: Clock{0, 0}},
		{in: "23:59", want: Clock{23, 59}},
		{in: "24:00", want: Clock{24, 0}},
		{in: "", wantErr: true},
		{in: "7", wantErr: true},
		{in: "7:5", wantErr: true},
		{in: "07:60", wantErr: true},
		{in: "24:01", wantErr: true},
		{in: "25:00", wantErr: true},
		{in: "-1:00", wantErr: true},
		{in: "+7:00", wantErr: true},
		{in: "123:00", wantErr: true},
		{in: "7:05:00", wantErr: true},
		{in: "07h05", wantErr: true},
		{in: " 7:00", wantErr: true},
		{in: "7:0a", wantErr: true},
		{in: "٧:٠٠", wantErr: true}, // non-ASCII digits
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseClock(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseClock(%q) = %v, want error", tt.in, got)
				}
				if !strings.Contains(err.Error(), strconv.Quote(tt.in)) {
					t.Errorf("error %q does not name the input", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseClock(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestClockString(t *testing.T) {
	for _, c := range []struct {
		in   Clock
		want string
	}{{Clock{7, 5}, "07:05"}, {Clock{24, 0}, "24:00"}, {Clock{0, 0}, "00:00"}} {
		if got := c.in.String(); got != c.want {
			t.Errorf("%#v.String() = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseDays(t *testing.T) {
	const (
		su = 1 << time.Sunday
		mo = 1 << time.Monday
		tu = 1 << time.Tuesday
		we = 1 << time.Wednesday
		th = 1 << time.Thursday
		fr = 1 << time.Friday
		sa = 1 << time.Saturday
	)
	tests := []struct {
		name    string
		in      []string
		want    int // bit per weekday
		wantErr string
	}{
		{name: "one", in: []string{"mon"}, want: mo},
		{name: "case", in: []string{"MON", "Tue", "wEd"}, want: mo | tu | we},
		{name: "full names", in: []string{"thursday", "Friday"}, want: th | fr},
		{name: "weekdays", in: []string{"weekdays"}, want: mo | tu | we | th | fr},
		{name: "weekends", in: []string{"weekends"}, want: sa | su},
		{name: "daily", in: []string{"daily"}, want: 0x7f},
		{name: "all", in: []string{"ALL"}, want: 0x7f},
		{name: "union", in: []string{"weekdays", "sat"}, want: 0x7f &^ su},
		{name: "repeats", in: []string{"sun", "sun", "weekends"}, want: sa | su},
		{name: "bedtime", in: []string{"sun", "mon", "tue", "wed", "thu"}, want: su | mo | tu | we | th},
		{name: "empty", in: nil, wantErr: "none"},
		{name: "abbreviation", in: []string{"mon", "tues"}, wantErr: `"tues"`},
		{name: "unknown", in: []string{"funday"}, wantErr: `"funday"`},
		{name: "spaces", in: []string{" mon"}, wantErr: `" mon"`},
		{name: "range", in: []string{"mon-fri"}, wantErr: `"mon-fri"`},
		{name: "blank", in: []string{""}, wantErr: `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDays(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseDays(%q) = %v, %v; want error naming %s", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDays(%q): %v", tt.in, err)
			}
			var want [7]bool
			for d := range want {
				want[d] = tt.want&(1<<d) != 0
			}
			if got != want {
				t.Errorf("ParseDays(%q) = %v, want %v", tt.in, got, want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	daily := [7]bool{true, true, true, true, true, true, true}
	ok := Window{Name: "ok", Days: daily, From: Clock{21, 0}, To: Clock{7, 0}}
	tests := []struct {
		name    string
		loc     *time.Location
		windows []Window
		wantErr string
	}{
		{name: "nil location", loc: nil, windows: []Window{ok}, wantErr: "nil location"},
		{name: "too many", loc: time.UTC, windows: make([]Window, MaxWindows+1), wantErr: "65 windows"},
		{name: "from 24:00", loc: time.UTC, windows: []Window{ok, {Name: "late", Days: daily, From: Clock{24, 0}, To: Clock{1, 0}}}, wantErr: `window 1 ("late"): from 24:00`},
		{name: "to 24:30", loc: time.UTC, windows: []Window{{Name: "x", Days: daily, To: Clock{24, 30}}}, wantErr: `("x"): to 24:30`},
		{name: "bad hour", loc: time.UTC, windows: []Window{{Name: "x", Days: daily, From: Clock{25, 0}}}, wantErr: "from 25:00"},
		{name: "negative minute", loc: time.UTC, windows: []Window{{Name: "x", Days: daily, To: Clock{1, -1}}}, wantErr: "to"},
		{name: "no days", loc: time.UTC, windows: []Window{{Name: "never", From: Clock{1, 0}}}, wantErr: `("never"): no days`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.loc, tt.windows)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New = %v, %v; want error containing %q", s, err, tt.wantErr)
			}
		})
	}
	many := make([]Window, MaxWindows)
	for i := range many {
		many[i] = ok
	}
	if _, err := New(time.UTC, many); err != nil {
		t.Errorf("New with %d windows: %v", MaxWindows, err)
	}
}
