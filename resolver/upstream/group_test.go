package upstream

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/miekg/dns"
)

// group returns a Group of UDP clients for fakes, in order.
func group(tb testing.TB, opt GroupOptions, fakes ...*dnstest.Upstream) *Group {
	tb.Helper()
	ups := make([]Upstream, len(fakes))
	for i, f := range fakes {
		ups[i] = client(tb, f, "udp", 0)
	}
	return NewGroup(ups, opt)
}

func name(f *dnstest.Upstream) string { return "udp://" + f.Addr() }

func TestGroupFailover(t *testing.T) {
	t.Parallel()
	dead := dnstest.NewUpstream(t, nil)
	dead.Close()
	good := dnstest.NewUpstream(t, dnstest.ZoneHandler(records...))
	g := group(t, GroupOptions{}, dead, good)

	r, from, err := g.exchange(context.Background(), query("example.com.", dns.TypeA))
	if err != nil {
		t.Fatal(err)
	}
	if from != name(good) || len(r.Answer) != 2 {
		t.Errorf("answer from %s:\n%v", from, r)
	}
	st := g.Status()
	if st[0].Healthy || st[0].Failures != 1 || st[0].Errors != 1 || st[0].LastError == "" || st[0].RetryAt.IsZero() {
		t.Errorf("dead upstream status %+v", st[0])
	}
	if !st[1].Healthy || st[1].Queries != 1 || st[1].Errors != 0 || st[1].LastRTT <= 0 {
		t.Errorf("good upstream status %+v", st[1])
	}
}

func TestGroupBackoff(t *testing.T) {
	t.Parallel()
	clk := dnstest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	bad := dnstest.NewUpstream(t, dnstest.RcodeHandler(dns.RcodeServerFailure))
	good := dnstest.NewUpstream(t, dnstest.ZoneHandler(records...))
	g := group(t, GroupOptions{Now: clk.Now}, bad, good)
	ask := func(step string, wantFrom *dnstest.Upstream, wantBad, wantGood int64) {
		t.Helper()
		_, from, err := g.exchange(context.Background(), query("example.com.", dns.TypeA))
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if from != name(wantFrom) || bad.Count() != wantBad || good.Count() != wantGood {
			t.Fatalf("%s: answer from %s, counts bad %d good %d; want %s, %d, %d",
				step, from, bad.Count(), good.Count(), name(wantFrom), wantBad, wantGood)
		}
	}

	ask("first", good, 1, 1)
	ask("backing off", good, 1, 2) // straight to the healthy one
	if st := g.Status()[0]; st.RetryAt != clk.Now().Add(time.Second) {
		t.Errorf("retry at %v, want 1s on", st.RetryAt)
	}
	clk.Advance(time.Second)
	ask("retried", good, 2, 3)
	if st := g.Status()[0]; st.RetryAt != clk.Now().Add(2*time.Second) || st.Failures != 2 {
		t.Errorf("second back-off: %+v, want 2s on after 2 failures", st)
	}
	bad.SetHandler(dnstest.ZoneHandler(records...))
	clk.Advance(time.Second)
	ask("still backing off", good, 2, 4)
	clk.Advance(time.Second)
	ask("recovered", bad, 3, 4)
	if st := g.Status()[0]; !st.Healthy || st.Failures != 0 || st.LastError != "" {
		t.Errorf("recovered status %+v", st)
	}
}

// TestGroupBackoffOnlyOncePerPeriod: failures while backing off (queries
// that were in flight, or the last resort) do not lengthen the back-off.
func TestGroupBackoffOnlyOncePerPeriod(t *testing.T) {
	t.Parallel()
	clk := dnstest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	bad := dnstest.NewUpstream(t, dnstest.RcodeHandler(dns.RcodeServerFailure))
	g := group(t, GroupOptions{Now: clk.Now}, bad)
	start := clk.Now()
	for i := range 3 {
		// The only upstream is tried even while backing off.
		if r, err := g.Exchange(context.Background(), query("example.com.", dns.TypeA)); err != nil || r.Rcode != dns.RcodeServerFailure {
			t.Fatalf("query %d: %v, %v", i, r, err)
		}
		clk.Advance(300 * time.Millisecond)
	}
	if st := g.Status()[0]; st.Failures != 3 || st.RetryAt != start.Add(time.Second) {
		t.Errorf("status %+v, want 3 failures and retry 1s after the first", st)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for level, want := range []time.Duration{0, 1 * time.Second, 2 * time.Second, 4 * time.Second,
		8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute} {
		if got := backoff(level); got != want {
			t.Errorf("backoff(%d) = %v, want %v", level, got, want)
		}
	}
	if got := backoff(1000); got != maxBackoff {
		t.Errorf("backoff(1000) = %v", got)
	}
}

func TestGroupBlackholedFirst(t *testing.T) {
	t.Parallel()
	hole := dnstest.NewUpstream(t, dnstest.DropHandler())
	good := dnstest.NewUpstream(t, dnstest.ZoneHandler(records...))
	// The first gets half of the time, so the second has the rest; generous,
	// as a loaded machine may overshoot the first's deadline.
	g := group(t, GroupOptions{Timeout: 2 * time.Second}, hole, good)
	_, from, err := g.exchange(context.Background(), query("example.com.", dns.TypeA))
	if err != nil || from != name(good) {
		t.Fatalf("answer from %q, error %v; want %s", from, err, name(good))
	}
	if hole.Count() != 1 {
		t.Errorf("black hole asked %d times, want 1", hole.Count())
	}
}

func TestGroupAllDead(t *testing.T) {
	t.Parallel()
	closed1 := dnstest.NewUpstream(t, nil)
	closed1.Close()
	closed2 := dnstest.NewUpstream(t, nil)
	closed2.Close()
	hole := dnstest.NewUpstream(t, dnstest.DropHandler())
	const timeout = 300 * time.Millisecond
	g := group(t, GroupOptions{Timeout: timeout}, closed1, hole, closed2)

	start := time.Now()
	r, err := g.Exchange(context.Background(), query("example.com.", dns.TypeA))
	elapsed := time.Since(start)
	if err == nil {
		t.Fatalf("no error, answer %v", r)
	}
	for _, f := range []*dnstest.Upstream{closed1, hole, closed2} {
		if !strings.Contains(err.Error(), f.Addr()) {
			t.Errorf("error does not name %s: %v", f.Addr(), err)
		}
	}
	if elapsed > timeout+2*time.Second { // a loose bound: machines get loaded
		t.Errorf("took %v, timeout %v", elapsed, timeout)
	}
}

func TestGroupRespectsCallerDeadline(t *testing.T) {
	t.Parallel()
	hole := dnstest.NewUpstream(t, dnstest.DropHandler())
	g := group(t, GroupOptions{Timeout: time.Minute}, hole)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := g.Exchange(ctx, query("example.com.", dns.TypeA))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want a deadline", err)
	}
	// A slow upstream is the upstream's fault.
	if st := g.Status()[0]; st.Failures != 1 {
		t.Errorf("status %+v, want a failure", st)
	}
}

// TestGroupTimeoutBoundsMembers: the group's time bounds an upstream whose
// own timeout is longer, for every kind of upstream (UDP is given the
// deadline as a value, the others a context).
func TestGroupTimeoutBoundsMembers(t *testing.T) {
	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			hole := dnstest.NewUpstream(t, dnstest.DropHandler())
			const timeout = 200 * time.Millisecond
			g := NewGroup([]Upstream{client(t, hole, proto, time.Minute)}, GroupOptions{Timeout: timeout})
			start := time.Now()
			_, err := g.Exchange(context.Background(), query("example.com.", dns.TypeA))
			if elapsed := time.Since(start); elapsed > timeout+5*time.Second {
				t.Fatalf("took %v with a group timeout of %v", elapsed, timeout) // loose: loaded machines
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v, want a deadline", err)
			}
		})
	}
}

func TestGroupCancelIsNoFailure(t *testing.T) {
	t.Parallel()
	received := make(chan struct{}, 1)
	hole := dnstest.NewUpstream(t, dns.HandlerFunc(func(dns.ResponseWriter, *dns.Msg) { received <- struct{}{} }))
	g := group(t, GroupOptions{Timeout: time.Minute}, hole)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-received
		cancel()
	}()
	_, err := g.Exchange(ctx, query("example.com.", dns.TypeA))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if st := g.Status()[0]; !st.Healthy || st.Failures != 0 {
		t.Errorf("status %+v after the caller cancelled, want healthy", st)
	}
}

func TestGroupRcodes(t *testing.T) {
	t.Parallel()
	zone := dnstest.ZoneHandler(records...)
	servfail := dnstest.RcodeHandler(dns.RcodeServerFailure)
	refused := dnstest.RcodeHandler(dns.RcodeRefused)
	tests := []struct {
		name      string
		first     dns.Handler
		second    dns.Handler
		qname     string
		wantRcode int
		wantFrom  int // index of the upstream the answer comes from
	}{
		{"servfail then answer", servfail, zone, "example.com.", dns.RcodeSuccess, 1},
		{"refused then answer", refused, zone, "example.com.", dns.RcodeSuccess, 1},
		{"nxdomain is an answer", zone, servfail, "nope.example.", dns.RcodeNameError, 0},
		{"all fail: first rcode", servfail, refused, "example.com.", dns.RcodeServerFailure, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fakes := []*dnstest.Upstream{dnstest.NewUpstream(t, tc.first), dnstest.NewUpstream(t, tc.second)}
			g := group(t, GroupOptions{}, fakes...)
			r, from, err := g.exchange(context.Background(), query(tc.qname, dns.TypeA))
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != tc.wantRcode || from != name(fakes[tc.wantFrom]) {
				t.Errorf("%s from %s, want %s from %s", dns.RcodeToString[r.Rcode], from,
					dns.RcodeToString[tc.wantRcode], name(fakes[tc.wantFrom]))
			}
		})
	}
}

func TestGroupMismatchTriesNext(t *testing.T) {
	t.Parallel()
	zone := dnstest.ZoneHandler(records...)
	for _, tc := range []struct {
		name string
		h    dns.Handler
	}{
		{"wrong id", dnstest.WrongIDHandler(zone)},
		{"wrong question", dnstest.WrongQuestionHandler(zone)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spoof := dnstest.NewUpstream(t, tc.h)
			good := dnstest.NewUpstream(t, zone)
			g := NewGroup([]Upstream{client(t, spoof, "tcp", 0), client(t, good, "tcp", 0)}, GroupOptions{})
			r, err := g.Exchange(context.Background(), query("example.com.", dns.TypeA))
			if err != nil || len(r.Answer) != 2 {
				t.Fatalf("answer %v, error %v", r, err)
			}
			if st := g.Status(); !strings.Contains(st[0].LastError, "mismatched answer") || good.Count() != 1 {
				t.Errorf("status %+v, good asked %d times", st[0], good.Count())
			}
		})
	}
}

func TestGroupEmpty(t *testing.T) {
	t.Parallel()
	if _, err := NewGroup(nil, GroupOptions{}).Exchange(context.Background(), query("example.com.", dns.TypeA)); err == nil {
		t.Error("no error from an empty group")
	}
}
