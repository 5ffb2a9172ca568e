package haven_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/havendns/haven/api"
	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

var runtimeZone = []string{
	"example.com. 300 IN A 192.0.2.1",
	"homework.test. 300 IN A 192.0.2.20",
	"social.test. 300 IN A 192.0.2.21",
	"youtube.com. 300 IN A 192.0.2.30",
	"www.youtube.com. 300 IN A 192.0.2.31",
	"i.ytimg.com. 300 IN A 192.0.2.32",
}

const kidLaptopIP = "127.0.0.5"

// runtimeConfig has kids with a nightly bedtime, YouTube and social media
// blocked, two kid devices, and the HTTP API on.
func runtimeConfig(upURL, dataDir string) string {
	return fmt.Sprintf(`listen: ["127.0.0.1:0"]
upstreams: [%q]
data_dir: %q
http: "127.0.0.1:0"
lists:
  social: [{inline: [social.test]}]
profiles:
  kids:
    timezone: Europe/London
    allow: [homework.test]
    block: [social, youtube]
    schedules:
      - {name: bedtime, days: [daily], from: "21:00", to: "07:00", block: [all]}
  adults: {}
default_profile: adults
devices:
  - {name: kid-tablet, match: [%s], profile: kids}
  - {name: kid-laptop, match: [%s], profile: kids}
`, upURL, dataDir, kidIP, kidLaptopIP)
}

// apiClient talks to h's HTTP API with the token from dataDir, as the
// haven command does.
func apiClient(tb testing.TB, h *haven.Haven, dataDir string) *api.Client {
	tb.Helper()
	if h.APIAddr() == "" {
		tb.Fatal("the HTTP API is not on")
	}
	tok, err := api.ReadToken(dataDir)
	if err != nil {
		tb.Fatal(err)
	}
	return &api.Client{Base: "http://" + h.APIAddr(), Token: tok, By: "test"}
}

// startRuntime runs a Haven on runtimeConfig with its clock at hour:minute,
// London time, on Thursday 26 November 2026, and returns it with an API
// client and the clock.
func startRuntime(tb testing.TB, hour, minute int) (*haven.Haven, *api.Client, *dnstest.Clock) {
	tb.Helper()
	clk := dnstest.NewClock(time.Date(2026, 11, 26, hour, minute, 0, 0, london(tb)))
	_, upURL := fakeUpstream(tb, runtimeZone...)
	dir := tb.TempDir()
	h := launch(tb, runtimeConfig(upURL, dir), haven.Options{Now: clk.Now})
	return h, apiClient(tb, h, dir), clk
}

// expect asks name from src and checks the outcome.
func expect(t *testing.T, h *haven.Haven, src, name, want, why string) *dns.Msg {
	t.Helper()
	r := askFrom(t, src, h.Addr(), name, dns.TypeA)
	if got := outcome(r); got != want {
		t.Errorf("%s: %s asks %s: %q, want %q", why, src, name, got, want)
	}
	return r
}

const (
	plainAnswer    = "NOERROR A 192.0.2.1"
	homeworkAnswer = "NOERROR A 192.0.2.20"
	youtubeAnswer  = "NOERROR A 192.0.2.30"
	pausedAnswer   = "NXDOMAIN blocked:paused"
	bedtimeAnswer  = "NXDOMAIN blocked:schedule:bedtime"
)

// TestPauseThroughAPI pauses one device through the HTTP API and lets the
// pause run out on the injected clock.
func TestPauseThroughAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, c, clk := startRuntime(t, 12, 0)

	expect(t, h, kidIP, "example.com.", plainAnswer, "before the pause")
	e, err := c.Pause(ctx, "kid-tablet", api.When{For: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if want := clk.Now().Add(30 * time.Minute); !e.Until.Equal(want) || e.Target != "kid-tablet" || e.By != "test" {
		t.Errorf("pause entry %+v, want kid-tablet until %s by test", e, want)
	}
	expect(t, h, kidIP, "example.com.", pausedAnswer, "paused")
	expect(t, h, kidIP, "homework.test.", homeworkAnswer, "paused, but the allow entries stay reachable")
	expect(t, h, kidLaptopIP, "example.com.", plainAnswer, "another device of the same profile is not paused")
	expect(t, h, adultIP, "example.com.", plainAnswer, "adults are not paused")

	// The explanation says so too.
	raw, err := c.Check(ctx, kidIP, "example.com", "A")
	if err != nil {
		t.Fatal(err)
	}
	var x haven.Explained
	if err := json.Unmarshal(raw, &x); err != nil {
		t.Fatal(err)
	}
	if x.Profile != "kids" || x.Device != "kid-tablet" || x.Decision != "blocked" || x.Category != "paused" || !x.Paused {
		t.Errorf("check during the pause: %s", raw)
	}

	clk.Advance(29*time.Minute + 30*time.Second)
	if r := expect(t, h, kidIP, "example.com.", pausedAnswer, "30 s left"); minTTL(r) > 30 {
		t.Errorf("block answer TTL %d with 30 s of pause left, want at most 30", minTTL(r))
	}
	clk.Advance(31 * time.Second)
	expect(t, h, kidIP, "example.com.", plainAnswer, "the pause ran out")
	if es, err := c.Entries(ctx); err != nil || len(es) != 0 {
		t.Errorf("entries after the pause ran out: %v, %v; want none", es, err)
	}

	var apiErr *api.Error
	if _, err := c.Pause(ctx, "nobody", api.When{For: time.Minute}); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Errorf("pause of an unknown target: %v, want a 404", err)
	}
}

// TestRewardDuringBedtime grants YouTube for half an hour in bedtime: only
// YouTube's names open up, a pause does not close them, and resume ends
// both.
func TestRewardDuringBedtime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, c, clk := startRuntime(t, 21, 30)

	expect(t, h, kidIP, "youtube.com.", bedtimeAnswer, "bedtime")
	e, err := c.Allow(ctx, "kid-tablet", "youtube", api.When{For: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if e.What != "youtube" || e.Target != "kid-tablet" {
		t.Errorf("allow entry %+v", e)
	}
	for name, want := range map[string]string{
		"youtube.com.":     youtubeAnswer,
		"www.youtube.com.": "NOERROR A 192.0.2.31",
		"i.ytimg.com.":     "NOERROR A 192.0.2.32", // part of the youtube service
		"example.com.":     bedtimeAnswer,
		"social.test.":     bedtimeAnswer,
	} {
		r := expect(t, h, kidIP, name, want, "youtube allowed in bedtime")
		if want != bedtimeAnswer && minTTL(r) > 1800 {
			t.Errorf("%s: TTL %d outlives the 30 min exception", name, minTTL(r))
		}
	}
	expect(t, h, kidLaptopIP, "youtube.com.", bedtimeAnswer, "the exception is the tablet's only")

	raw, err := c.Check(ctx, kidIP, "youtube.com", "")
	if err != nil {
		t.Fatal(err)
	}
	var x haven.Explained
	if err := json.Unmarshal(raw, &x); err != nil {
		t.Fatal(err)
	}
	if x.Decision != "allowed" || x.Tier != "exception" || !slices.Contains(x.Windows, "bedtime") {
		t.Errorf("check youtube.com under the exception: %s", raw)
	}

	// A pause on top: everything else says paused, YouTube stays open.
	if _, err := c.Pause(ctx, "kid-tablet", api.When{Until: "22:30"}); err != nil {
		t.Fatal(err)
	}
	expect(t, h, kidIP, "example.com.", pausedAnswer, "paused in bedtime")
	expect(t, h, kidIP, "youtube.com.", youtubeAnswer, "the exception beats the pause")

	n, err := c.Resume(ctx, "kid-tablet")
	if err != nil || n != 2 {
		t.Fatalf("resume: %d, %v; want 2 entries removed", n, err)
	}
	expect(t, h, kidIP, "youtube.com.", bedtimeAnswer, "resumed: the exception is gone")
	expect(t, h, kidIP, "example.com.", bedtimeAnswer, "resumed: the pause is gone, bedtime is not")
	if es, err := c.Entries(ctx); err != nil || len(es) != 0 {
		t.Errorf("entries after resume: %v, %v; want none", es, err)
	}

	// A domain granted to the whole profile, written as a person types it.
	if e, err := c.Allow(ctx, "kids", "Example.COM.", api.When{For: 10 * time.Minute}); err != nil || e.What != "example.com" {
		t.Fatalf("allow a domain: %+v, %v", e, err)
	}
	expect(t, h, kidIP, "example.com.", plainAnswer, "the profile's exception covers the tablet")
	expect(t, h, kidLaptopIP, "example.com.", plainAnswer, "and the laptop")
	expect(t, h, kidIP, "youtube.com.", bedtimeAnswer, "and nothing else")
	clk.Advance(10*time.Minute + time.Second)
	expect(t, h, kidIP, "example.com.", bedtimeAnswer, "the exception ran out")
}

// TestPauseSurvivesRestart pauses a device, restarts Haven on the same
// data directory, and finds it still paused until the pause ends.
func TestPauseSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	loc := london(t)
	clk := dnstest.NewClock(time.Date(2026, 11, 26, 12, 0, 0, 0, loc))
	_, upURL := fakeUpstream(t, runtimeZone...)
	dir := t.TempDir()
	first, stop := launchFile(t, "", runtimeConfig(upURL, dir), haven.Options{Now: clk.Now})
	if _, err := apiClient(t, first, dir).Pause(ctx, "kid-tablet", api.When{For: 30 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	expect(t, first, kidIP, "example.com.", pausedAnswer, "paused")
	stop()

	clk.Advance(time.Minute)
	second := launch(t, runtimeConfig(upURL, dir), haven.Options{Now: clk.Now})
	expect(t, second, kidIP, "example.com.", pausedAnswer, "still paused after the restart")
	expect(t, second, kidLaptopIP, "example.com.", plainAnswer, "the other device was never paused")
	es, err := apiClient(t, second, dir).Entries(ctx)
	if err != nil || len(es) != 1 || es[0].Target != "kid-tablet" {
		t.Errorf("entries after the restart: %+v, %v; want the tablet's pause", es, err)
	}
	clk.Advance(29*time.Minute + time.Second)
	expect(t, second, kidIP, "example.com.", plainAnswer, "the pause ran out")
}
