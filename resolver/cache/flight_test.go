package cache

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

// blockingNext is a next step that waits for release before answering, so
// a test can pile callers up behind it.
type blockingNext struct {
	upstream
	entered chan struct{} // one send per call
	release chan struct{}
}

func newBlockingNext(answer func(*dns.Msg) (*dns.Msg, error)) *blockingNext {
	return &blockingNext{
		upstream: upstream{answer: answer},
		entered:  make(chan struct{}, 64),
		release:  make(chan struct{}),
	}
}

func (b *blockingNext) step() resolver.Func {
	inner := b.upstream.step()
	return func(ctx context.Context, q *resolver.Query) (*dns.Msg, error) {
		b.entered <- struct{}{}
		<-b.release
		return inner(ctx, q)
	}
}

// waitForWaiters returns once n callers wait on the flight for k. It fails
// the test instead if a second caller reaches next, which would mean the
// callers are not coalesced and the wait would never end.
func waitForWaiters(tb testing.TB, c *Cache, next *blockingNext, k key, n int) {
	tb.Helper()
	for {
		if len(next.entered) > 0 {
			close(next.release)
			tb.Fatalf("a second caller reached next: misses not coalesced")
		}
		c.mu.Lock()
		f := c.flights[k]
		got := 0
		if f != nil {
			got = f.waiters
		}
		c.mu.Unlock()
		if got >= n {
			return
		}
		runtime.Gosched()
	}
}

func TestConcurrentMissesCoalesce(t *testing.T) {
	const callers = 8
	tests := []struct {
		name     string
		answer   func(*dns.Msg) (*dns.Msg, error)
		wantErr  error
		wantCode int
		cached   bool
	}{
		{name: "cacheable", answer: aRecord(300), cached: true},
		{name: "SERVFAIL", answer: replyWith(dns.RcodeServerFailure, nil, nil, nil), wantCode: dns.RcodeServerFailure},
		{name: "error", answer: func(*dns.Msg) (*dns.Msg, error) { return nil, errUpstream }, wantErr: errUpstream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := newBlockingNext(tt.answer)
			c := New(next.step(), Options{Size: 10, Now: newClock().Now})

			type result struct {
				q   *resolver.Query
				m   *dns.Msg
				err error
			}
			results := make([]result, callers)
			var wg sync.WaitGroup
			for i := range callers {
				wg.Go(func() {
					q := query("example.org.", dns.TypeA)
					m, err := c.Resolve(context.Background(), q)
					results[i] = result{q, m, err}
				})
			}
			<-next.entered
			waitForWaiters(t, c, next, keyOf(query("example.org.", dns.TypeA).Msg), callers-1)
			close(next.release)
			wg.Wait()

			if n := next.calls.Load(); n != 1 {
				t.Errorf("next called %d times, want 1", n)
			}
			seen := make(map[*dns.Msg]bool)
			for i, r := range results {
				if !errors.Is(r.err, tt.wantErr) || (r.err == nil) != (tt.wantErr == nil) {
					t.Errorf("caller %d: error %v, want %v", i, r.err, tt.wantErr)
					continue
				}
				if r.q.Trace.Cache != resolver.CacheMiss || r.q.Trace.Upstream != "test" {
					t.Errorf("caller %d: trace %v/%q, want miss/test", i, r.q.Trace.Cache, r.q.Trace.Upstream)
				}
				if r.err != nil {
					continue
				}
				if r.m.Rcode != tt.wantCode {
					t.Errorf("caller %d: rcode %d, want %d", i, r.m.Rcode, tt.wantCode)
				}
				if seen[r.m] {
					t.Errorf("caller %d: shares its answer with another caller", i)
				}
				seen[r.m] = true
			}
			if got := c.Len() == 1; got != tt.cached {
				t.Errorf("cached = %v, want %v", got, tt.cached)
			}
		})
	}
}

func TestWaiterContextEnds(t *testing.T) {
	next := newBlockingNext(aRecord(300))
	c := New(next.step(), Options{Size: 10, Now: newClock().Now})

	leader := make(chan error, 1)
	go func() {
		_, err := c.Resolve(context.Background(), query("example.org.", dns.TypeA))
		leader <- err
	}()
	<-next.entered

	ctx, cancel := context.WithCancel(context.Background())
	waiter := make(chan error, 1)
	go func() {
		_, err := c.Resolve(ctx, query("example.org.", dns.TypeA))
		waiter <- err
	}()
	waitForWaiters(t, c, next, keyOf(query("example.org.", dns.TypeA).Msg), 1)
	cancel()
	if err := <-waiter; !errors.Is(err, context.Canceled) {
		t.Errorf("waiter: error %v, want %v", err, context.Canceled)
	}

	close(next.release)
	if err := <-leader; err != nil {
		t.Errorf("leader: %v", err)
	}
	if c.Len() != 1 {
		t.Errorf("leader's answer not stored")
	}
}

// TestLoneFlightsRecycled: a miss nobody else waits for returns its flight
// to a pool; the next misses, lone or shared, must see nothing of the last
// one's result.
func TestLoneFlightsRecycled(t *testing.T) {
	u := &upstream{answer: func(req *dns.Msg) (*dns.Msg, error) {
		if strings.HasPrefix(req.Question[0].Name, "fail") {
			return nil, errUpstream
		}
		return aRecord(300)(req)
	}}
	c := New(u.step(), Options{Size: 1000, Now: newClock().Now})
	for i := range 200 {
		name := fmt.Sprintf("ok%d.example.", i)
		if i%2 == 1 {
			name = fmt.Sprintf("fail%d.example.", i)
		}
		m, err := c.Resolve(context.Background(), query(name, dns.TypeA))
		switch {
		case i%2 == 1 && !errors.Is(err, errUpstream):
			t.Fatalf("%s: answer %v, error %v, want %v", name, m, err, errUpstream)
		case i%2 == 0 && (err != nil || len(m.Answer) != 1 || m.Answer[0].Header().Name != name):
			t.Fatalf("%s: answer %v, error %v", name, m, err)
		}
	}
	// Then shared ones, on flights from the pool.
	next := newBlockingNext(aRecord(300))
	c = New(next.step(), Options{Size: 10, Now: newClock().Now})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if m, err := c.Resolve(context.Background(), query("shared.example.", dns.TypeA)); err != nil || len(m.Answer) != 1 {
				t.Errorf("shared miss: answer %v, error %v", m, err)
			}
		})
	}
	<-next.entered
	waitForWaiters(t, c, next, keyOf(query("shared.example.", dns.TypeA).Msg), 3)
	close(next.release)
	wg.Wait()
}
