package haven_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

// TestFastPathFollowsPolicy asks the same name again and again (so that
// after the first time the server's fast path replays it) while the policy
// changes under it: a pause, a resume, a reload that denies the name, one
// that allows it again. Each change must show at the very next query.
func TestFastPathFollowsPolicy(t *testing.T) {
	t.Parallel()
	up, url := fakeUpstream(t, "games.example. 3600 IN A 192.0.2.8")
	file := filepath.Join(t.TempDir(), "haven.yaml")
	conf := func(deny string) string {
		return fmt.Sprintf(`listen: ["127.0.0.1:0"]
upstreams: [%q]
data_dir: %q
lists: {}
block: []
profiles:
  adults: {}
  kids: {deny: [%s]}
devices:
  - {name: kid-tablet, match: [127.0.0.2], profile: kids}
default_profile: adults
`, url, filepath.Join(filepath.Dir(file), "data"), deny)
	}
	h, _ := launchFile(t, file, conf(""), haven.Options{})
	addr := h.Addr()
	const allowed, paused, denied = "NOERROR A 192.0.2.8", "NXDOMAIN blocked:paused", "NXDOMAIN blocked:custom"
	expect := func(step, want string) {
		t.Helper()
		for i := range 3 {
			if got := outcome(askFrom(t, "127.0.0.2", addr, "games.example.", dns.TypeA)); got != want {
				t.Fatalf("%s, query %d: %q, want %q", step, i+1, got, want)
			}
			time.Sleep(5 * time.Millisecond) // let the answer be kept for replay
		}
	}
	expect("start", allowed)
	if n := up.Count(); n != 1 {
		t.Errorf("upstream asked %d times for three queries", n)
	}
	ctx := context.Background()
	if _, err := h.Pause(ctx, "kid-tablet", time.Now().Add(time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
	expect("paused", paused)
	if _, err := h.Resume(ctx, "kid-tablet"); err != nil {
		t.Fatal(err)
	}
	expect("resumed", allowed)
	rewrite(t, file, conf("games.example"))
	if err := h.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	expect("reloaded with deny", denied)
	rewrite(t, file, conf(""))
	if err := h.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	expect("reloaded without", allowed)
	// The adult next door was never affected, and shares none of the
	// tablet's answers.
	if got := outcome(askFrom(t, "127.0.0.1", addr, "games.example.", dns.TypeA)); got != allowed {
		t.Errorf("adult: %q", got)
	}
}

// TestFastPathScheduleBoundary asks a name half a second before bedtime:
// its TTL is capped to 1 s (TTLs are whole seconds), yet the answer must
// not be replayed past 21:00 (Trace.Valid keeps the exact boundary).
func TestFastPathScheduleBoundary(t *testing.T) {
	t.Parallel()
	clk := newClock()
	// Thursday 2026-11-26, 20:59:59.5 in London (UTC+0 in November).
	clk.Set(time.Date(2026, 11, 26, 20, 59, 59, 500_000_000, london(t)))
	h := startScheduled(t, clk)
	for i := range 3 {
		if got := outcome(askFrom(t, kidIP, h.Addr(), "example.com.", dns.TypeA)); got != "NOERROR A 192.0.2.1" {
			t.Fatalf("before bedtime, query %d: %q", i+1, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	clk.Advance(600 * time.Millisecond) // 21:00:00.1
	if got := outcome(askFrom(t, kidIP, h.Addr(), "example.com.", dns.TypeA)); got != "NXDOMAIN blocked:schedule:bedtime" {
		t.Errorf("at bedtime: %q", got)
	}
}
