package haven_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

var scheduleZone = []string{
	"example.com. 300 IN A 192.0.2.1",
	"homework.test. 300 IN A 192.0.2.20",
	"social.test. 300 IN A 192.0.2.21",
	"games.test. 300 IN A 192.0.2.22",
	"lessons.homework.test. 300 IN CNAME video.cdn.test.",
	"video.cdn.test. 300 IN A 192.0.2.23",
}

const (
	kidIP   = "127.0.0.2"
	teenIP  = "127.0.0.4"
	adultIP = "127.0.0.3"
)

// startScheduled runs a Haven whose kids have a bedtime (Sunday to
// Thursday nights) and a homework window, and whose teens get games on
// Saturday mornings only, on clk.
func startScheduled(tb testing.TB, clk *dnstest.Clock) *haven.Haven {
	tb.Helper()
	_, upURL := fakeUpstream(tb, scheduleZone...)
	return launch(tb, fmt.Sprintf(`listen: ["127.0.0.1:0"]
upstreams: [%q]
lists:
  social: [{inline: [social.test]}]
  gaming: [{inline: [games.test]}]
profiles:
  kids:
    timezone: Europe/London
    allow: [homework.test]
    schedules:
      - {name: bedtime, days: [sun, mon, tue, wed, thu], from: "21:00", to: "07:00", block: [all]}
      - {name: homework, days: [weekdays], from: "16:00", to: "18:00", block: [social, gaming]}
  teens:
    timezone: Europe/London
    block: [gaming]
    schedules:
      - {name: games-morning, days: [sat], from: "09:00", to: "12:00", allow: [gaming]}
  adults: {}
default_profile: adults
devices:
  - {name: kid-tablet, match: [%s], profile: kids}
  - {name: teen-phone, match: [%s], profile: teens}
  - {name: parent-phone, match: [%s], profile: adults}
`, upURL, kidIP, teenIP, adultIP), haven.Options{Now: clk.Now})
}

// step is one moment of a timeline: the clock is set to at, then each
// client asks for name and must get want; ttl > 0 also bounds the answer's
// TTLs, and exact asks for exactly that TTL.
type step struct {
	at         time.Time
	src, name  string
	want       string
	ttl        int
	exact      bool
	annotation string
}

func runTimeline(t *testing.T, h *haven.Haven, clk *dnstest.Clock, steps []step) {
	t.Helper()
	for _, s := range steps {
		clk.Set(s.at)
		r := askFrom(t, s.src, h.Addr(), s.name, dns.TypeA)
		when := s.at.Format("Mon 2 Jan 15:04:05 MST")
		if got := outcome(r); got != s.want {
			t.Errorf("%s, %s asks %s (%s): %q, want %q", when, s.src, s.name, s.annotation, got, s.want)
			continue
		}
		got := minTTL(r)
		switch {
		case s.ttl > 0 && s.exact && got != s.ttl:
			t.Errorf("%s, %s asks %s (%s): TTL %d, want exactly %d", when, s.src, s.name, s.annotation, got, s.ttl)
		case s.ttl > 0 && got > s.ttl:
			t.Errorf("%s, %s asks %s (%s): TTL %d, want at most %d", when, s.src, s.name, s.annotation, got, s.ttl)
		}
	}
}

// TestScheduleTimeline walks a week of the injected clock through
// bedtime, homework and a window that allows what the profile blocks.
func TestScheduleTimeline(t *testing.T) {
	t.Parallel()
	loc := london(t)
	at := func(day, h, m, s int) time.Time { return time.Date(2026, 11, day, h, m, s, 0, loc) }
	clk := dnstest.NewClock(at(26, 12, 0, 0))
	h := startScheduled(t, clk)

	const (
		plain      = "NOERROR A 192.0.2.1"
		homework   = "NOERROR A 192.0.2.20"
		social     = "NOERROR A 192.0.2.21"
		games      = "NOERROR A 192.0.2.22"
		bedtime    = "NXDOMAIN blocked:schedule:bedtime"
		noSocial   = "NXDOMAIN blocked:social"
		noGames    = "NXDOMAIN blocked:gaming"
		thursday   = 26 // November 2026: Thursday 26, Friday 27, Saturday 28, Sunday 29, Monday 30
		friday     = 27
		saturday   = 28
		sunday     = 29
		monday     = 30
		beforeBed  = "bedtime starts in 10 s: the answer may not outlive it"
		crossNight = "Thursday's bedtime runs into Friday, which is not a bedtime day"
	)
	runTimeline(t, h, clk, []step{
		{at: at(thursday, 20, 59, 50), src: kidIP, name: "example.com.", want: plain, ttl: 10, exact: true, annotation: beforeBed},
		{at: at(thursday, 20, 59, 50), src: kidIP, name: "social.test.", want: social, ttl: 10, annotation: beforeBed},
		{at: at(thursday, 21, 0, 5), src: kidIP, name: "example.com.", want: bedtime, annotation: "bedtime blocks everything"},
		{at: at(thursday, 21, 0, 5), src: kidIP, name: "social.test.", want: bedtime, annotation: "bedtime blocks everything"},
		{at: at(thursday, 21, 0, 5), src: kidIP, name: "homework.test.", want: homework, annotation: "the profile's allow entries beat bedtime"},
		{at: at(thursday, 21, 0, 5), src: kidIP, name: "lessons.homework.test.", want: "NOERROR CNAME video.cdn.test.; A 192.0.2.23", annotation: "an allowed name's CNAME target is not put to bed"},
		{at: at(thursday, 21, 0, 5), src: kidIP, name: "video.cdn.test.", want: bedtime, annotation: "though asked for itself it is"},
		{at: at(thursday, 21, 0, 5), src: adultIP, name: "example.com.", want: plain, annotation: "adults have no bedtime"},
		{at: at(thursday, 21, 0, 5), src: teenIP, name: "example.com.", want: plain, annotation: "teens have no bedtime"},
		{at: at(friday, 6, 59, 30), src: kidIP, name: "example.com.", want: bedtime, ttl: 30, annotation: crossNight},
		{at: at(friday, 7, 0, 1), src: kidIP, name: "example.com.", want: plain, annotation: "bedtime is over"},
		{at: at(friday, 16, 30, 0), src: kidIP, name: "social.test.", want: noSocial, annotation: "homework blocks social"},
		{at: at(friday, 16, 30, 0), src: kidIP, name: "games.test.", want: noGames, annotation: "homework blocks gaming"},
		{at: at(friday, 16, 30, 0), src: kidIP, name: "example.com.", want: plain, ttl: 90 * 60, annotation: "homework blocks nothing else, until 18:00"},
		{at: at(friday, 16, 30, 0), src: adultIP, name: "social.test.", want: social, annotation: "adults have no homework"},
		{at: at(friday, 17, 59, 0), src: kidIP, name: "example.com.", want: plain, ttl: 60, annotation: "homework ends in a minute"},
		{at: at(friday, 18, 0, 0), src: kidIP, name: "social.test.", want: social, annotation: "homework ends at 18:00"},
		{at: at(friday, 21, 0, 5), src: kidIP, name: "example.com.", want: plain, annotation: "Friday is not a bedtime day"},
		{at: at(saturday, 6, 0, 0), src: kidIP, name: "example.com.", want: plain, annotation: "Friday is not a bedtime day"},
		{at: at(saturday, 8, 59, 0), src: teenIP, name: "games.test.", want: noGames, annotation: "teens' profile blocks gaming"},
		{at: at(saturday, 10, 0, 0), src: teenIP, name: "games.test.", want: games, annotation: "the Saturday window allows gaming"},
		{at: at(saturday, 11, 59, 50), src: teenIP, name: "games.test.", want: games, ttl: 10, annotation: "the window ends in 10 s"},
		{at: at(saturday, 12, 0, 1), src: teenIP, name: "games.test.", want: noGames, annotation: "the window is over"},
		{at: at(saturday, 16, 30, 0), src: kidIP, name: "social.test.", want: social, annotation: "no homework at weekends"},
		{at: at(sunday, 21, 0, 5), src: kidIP, name: "example.com.", want: bedtime, annotation: "Sunday is a bedtime day"},
		{at: at(monday, 6, 59, 59), src: kidIP, name: "homework.test.", want: homework, ttl: 1, annotation: "allowed, with bedtime's end a second away"},
		{at: at(monday, 15, 59, 0), src: kidIP, name: "games.test.", want: games, annotation: "homework starts at 16:00"},
	})
}

// TestScheduleDST runs a bedtime across the night the clocks in London go
// back (Sunday 25 October 2026, 02:00 BST becomes 01:00 GMT): it starts at
// 21:00 on the clock (BST) and ends at 07:00 on the clock (GMT), eleven
// hours later, not ten.
func TestScheduleDST(t *testing.T) {
	t.Parallel()
	utc := func(day, h, m, s int) time.Time { return time.Date(2026, 10, day, h, m, s, 0, time.UTC) }
	clk := dnstest.NewClock(utc(24, 12, 0, 0))
	_, upURL := fakeUpstream(t, scheduleZone...)
	h := launch(t, fmt.Sprintf(`listen: ["127.0.0.1:0"]
upstreams: [%q]
profiles:
  kids:
    timezone: Europe/London
    schedules:
      - {name: bedtime, days: [sat], from: "21:00", to: "07:00", block: [all]}
`, upURL), haven.Options{Now: clk.Now})
	const (
		plain   = "NOERROR A 192.0.2.1"
		bedtime = "NXDOMAIN blocked:schedule:bedtime"
	)
	runTimeline(t, h, clk, []step{
		{at: utc(24, 19, 59, 55), src: kidIP, name: "example.com.", want: plain, ttl: 5, exact: true, annotation: "20:59:55 BST"},
		{at: utc(24, 20, 0, 5), src: kidIP, name: "example.com.", want: bedtime, annotation: "21:00:05 BST"},
		{at: utc(25, 6, 0, 30), src: kidIP, name: "example.com.", want: bedtime, annotation: "06:00:30 GMT, ten hours after 21:00 BST"},
		{at: utc(25, 6, 30, 0), src: kidIP, name: "example.com.", want: bedtime, annotation: "06:30 GMT"},
		{at: utc(25, 6, 59, 30), src: kidIP, name: "example.com.", want: bedtime, ttl: 30, annotation: "06:59:30 GMT: bedtime ends in 30 s"},
		{at: utc(25, 7, 0, 1), src: kidIP, name: "example.com.", want: plain, annotation: "07:00:01 GMT"},
	})
}

// describeFields reads the "key: value" lines of Describe's report.
func describeFields(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && !strings.HasPrefix(line, " ") {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// TestDescribeNamesProfileScheduleAndRule is `haven check --client`: the
// explanation names the device's profile, the schedules in force and the
// rule that decides.
func TestDescribeNamesProfileScheduleAndRule(t *testing.T) {
	t.Parallel()
	loc := london(t)
	clk := dnstest.NewClock(time.Date(2026, 11, 26, 21, 0, 5, 0, loc)) // Thursday, bedtime
	h := startScheduled(t, clk)
	kid, err := haven.ParseWho(kidIP)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at   time.Time
		name string
		want map[string]string // field -> value it must contain
	}{
		{clk.Now(), "example.com.", map[string]string{
			"profile": "kids (device kid-tablet)", "schedules": "bedtime", "decision": "blocked",
			"category": "schedule:bedtime", "by": "schedule/pause",
		}},
		{clk.Now(), "homework.test.", map[string]string{
			"profile": "kids (device kid-tablet)", "schedules": "bedtime", "decision": "allowed",
			"rule": "allow homework.test", "by": "config",
		}},
		{time.Date(2026, 11, 27, 16, 30, 0, 0, loc), "social.test.", map[string]string{
			"profile": "kids (device kid-tablet)", "schedules": "homework", "decision": "blocked",
			"category": "social", "rule": "block social.test", "by": "lists",
		}},
	}
	for _, tc := range tests {
		clk.Set(tc.at)
		report := h.Describe(kid, tc.name, dns.TypeA)
		got := describeFields(report)
		for k, v := range tc.want {
			if !strings.Contains(got[k], v) {
				t.Errorf("%s at %s: %s is %q, want it to contain %q; report:\n%s", tc.name, tc.at.Format(time.Kitchen), k, got[k], v, report)
			}
		}
	}
	// The unmatched client gets the default profile and no schedule.
	report := h.Describe(mustWho(t, "127.0.0.9"), "example.com.", dns.TypeA)
	if got := describeFields(report); got["profile"] != "adults" || got["schedules"] != "" || !strings.HasPrefix(got["decision"], "allowed") {
		t.Errorf("unmatched client: %q", report)
	}
}
