package schedule_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/havendns/haven/config"
	"github.com/havendns/haven/policy/schedule"
)

// TestDaysAgree checks that the config loader, which imports nothing of
// Haven's and so keeps its own copy of the day names, reads a schedule's
// days as ParseDays does: both accept and reject the same lists, and give
// the same set for the ones they accept.
func TestDaysAgree(t *testing.T) {
	tests := [][]string{
		{"mon"}, {"tue"}, {"wed"}, {"thu"}, {"fri"}, {"sat"}, {"sun"},
		{"monday"}, {"tuesday"}, {"wednesday"}, {"thursday"}, {"friday"}, {"saturday"}, {"sunday"},
		{"MON"}, {"Sunday"}, {"WeekDays"},
		{"weekdays"}, {"weekends"}, {"daily"}, {"all"},
		{"sat", "sun"}, {"weekdays", "sat"}, {"mon", "mon"}, {"weekends", "daily"},
		{},
		{""}, {"mo"}, {"mondays"}, {"weekday"}, {"weekend"}, {"every"}, {"1"}, {" mon"}, {"mon "},
		{"mon", "funday"}, {"funday", "mon"},
	}
	for _, days := range tests {
		t.Run(strings.Join(days, ","), func(t *testing.T) {
			want, werr := schedule.ParseDays(days)
			got, gerr := configDays(t, days)
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("schedule.ParseDays error %v, config error %v: they must agree", werr, gerr)
			}
			if werr == nil && got != want {
				t.Errorf("config days %v, schedule.ParseDays %v", got, want)
			}
		})
	}
}

// configDays loads a config whose only schedule starts on days and returns
// the days it was read as.
func configDays(tb testing.TB, days []string) ([7]bool, error) {
	tb.Helper()
	quoted := make([]string, len(days))
	for i, d := range days {
		quoted[i] = strconv.Quote(d)
	}
	body := "upstreams: [udp://192.0.2.53]\nprofiles:\n  kids:\n    schedules:\n" +
		"      - {name: s, days: [" + strings.Join(quoted, ", ") + "], from: \"21:00\", to: \"07:00\", block: all}\n"
	cfg, err := config.Parse("t.yaml", []byte(body))
	if err != nil {
		return [7]bool{}, err
	}
	for _, p := range cfg.Profiles {
		if p.Name == "kids" && len(p.Schedules) == 1 {
			return p.Schedules[0].Days, nil
		}
	}
	tb.Fatalf("config loaded without the kids schedule:\n%s", body)
	return [7]bool{}, nil
}
