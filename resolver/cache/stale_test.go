package cache

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

func TestServeStale(t *testing.T) {
	const ttl = 300 * time.Second
	nxdomain := replyWith(dns.RcodeNameError, nil,
		rrs(t, "example.org. 300 IN SOA ns.example.org. host.example.org. 1 7200 3600 1209600 300"), nil)
	tests := []struct {
		name     string
		opt      Options
		stored   func(*dns.Msg) (*dns.Msg, error) // nil: an A record
		after    time.Duration                    // past expiry
		fail     func(*dns.Msg) (*dns.Msg, error)
		wantTTL  uint32 // 0: no stale answer, next's failure passed on
		wantCode int
	}{
		{name: "error within window", opt: Options{ServeStale: time.Hour}, after: 30 * time.Minute,
			fail: func(*dns.Msg) (*dns.Msg, error) { return nil, errUpstream }, wantTTL: 30},
		{name: "SERVFAIL within window", opt: Options{ServeStale: time.Hour}, after: 0,
			fail: replyWith(dns.RcodeServerFailure, nil, nil, nil), wantTTL: 30},
		{name: "REFUSED within window", opt: Options{ServeStale: time.Hour}, after: time.Minute,
			fail: replyWith(dns.RcodeRefused, nil, nil, nil), wantTTL: 30},
		{name: "last moment of window", opt: Options{ServeStale: time.Hour}, after: time.Hour - time.Millisecond,
			fail: func(*dns.Msg) (*dns.Msg, error) { return nil, errUpstream }, wantTTL: 30},
		{name: "own stale TTL", opt: Options{ServeStale: time.Hour, StaleTTL: 10 * time.Second}, after: time.Minute,
			fail: func(*dns.Msg) (*dns.Msg, error) { return nil, errUpstream }, wantTTL: 10},
		{name: "negative answer", opt: Options{ServeStale: time.Hour}, stored: nxdomain, after: time.Minute,
			fail: func(*dns.Msg) (*dns.Msg, error) { return nil, errUpstream }, wantTTL: 30, wantCode: dns.RcodeNameError},
		{name: "error after window", opt: Options{ServeStale: time.Hour}, after: time.Hour,
			fail: func(*dns.Msg) (*dns.Msg, error) { return nil, errUpstream }},
		{name: "SERVFAIL after window", opt: Options{ServeStale: time.Hour}, after: 2 * time.Hour,
			fail: replyWith(dns.RcodeServerFailure, nil, nil, nil)},
		{name: "serve-stale off", after: time.Second,
			fail: func(*dns.Msg) (*dns.Msg, error) { return nil, errUpstream }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored := tt.stored
			if stored == nil {
				stored = aRecord(uint32(ttl / time.Second))
			}
			answer := stored
			c, u, clk := newCache(tt.opt, func(req *dns.Msg) (*dns.Msg, error) { return answer(req) })
			ask(t, c, query("example.org.", dns.TypeA))

			answer = tt.fail
			clk.Advance(ttl + tt.after)
			q := query("example.org.", dns.TypeA)
			m, err := c.Resolve(context.Background(), q)
			if u.calls.Load() != 2 {
				t.Fatalf("next called %d times, want 2 (stale is only a fallback)", u.calls.Load())
			}
			if tt.wantTTL == 0 {
				if q.Trace.Cache != resolver.CacheMiss {
					t.Errorf("trace %v, want miss", q.Trace.Cache)
				}
				if err == nil && m.Rcode != dns.RcodeServerFailure {
					t.Errorf("got %v, want next's failure", m)
				}
				if err != nil && !errors.Is(err, errUpstream) {
					t.Errorf("error %v, want %v", err, errUpstream)
				}
				if s := c.Stats().Stale; s != 0 {
					t.Errorf("Stats().Stale = %d, want 0", s)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v, want a stale answer", err)
			}
			if q.Trace.Cache != resolver.CacheStale {
				t.Errorf("trace %v, want stale", q.Trace.Cache)
			}
			if m.Rcode != tt.wantCode {
				t.Errorf("rcode %d, want %d", m.Rcode, tt.wantCode)
			}
			got := ttls(m)
			if len(got) == 0 {
				t.Errorf("stale answer has no records")
			}
			for _, ttl := range got {
				if ttl != tt.wantTTL {
					t.Errorf("stale TTLs %v, want all %d", got, tt.wantTTL)
					break
				}
			}
			if codes := ede(m); !slices.Equal(codes, []uint16{dns.ExtendedErrorCodeStaleAnswer}) {
				t.Errorf("EDE codes %v, want [%d]", codes, dns.ExtendedErrorCodeStaleAnswer)
			}
			if s := c.Stats().Stale; s != 1 {
				t.Errorf("Stats().Stale = %d, want 1", s)
			}

			// Once next answers again, the fresh answer replaces the stale one.
			answer = stored
			ask(t, c, query("example.org.", dns.TypeA))
			q = query("example.org.", dns.TypeA)
			if m := ask(t, c, q); q.Trace.Cache != resolver.CacheHit || ede(m) != nil {
				t.Errorf("after recovery: trace %v, EDE %v; want a fresh hit", q.Trace.Cache, ede(m))
			}
		})
	}
}

func TestDeadEntryDropped(t *testing.T) {
	answer := aRecord(60)
	c, _, clk := newCache(Options{ServeStale: time.Minute}, func(req *dns.Msg) (*dns.Msg, error) { return answer(req) })
	ask(t, c, query("example.org.", dns.TypeA))
	answer = replyWith(dns.RcodeServerFailure, nil, nil, nil)

	clk.Advance(90 * time.Second) // expired, within the stale window: kept
	ask(t, c, query("example.org.", dns.TypeA))
	if c.Len() != 1 {
		t.Errorf("entry in the stale window dropped")
	}
	clk.Advance(time.Minute) // past the window: of no more use
	ask(t, c, query("example.org.", dns.TypeA))
	if c.Len() != 0 {
		t.Errorf("dead entry kept")
	}
}
