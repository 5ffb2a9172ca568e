package cache

import (
	"context"
	"testing"
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

// TestCovers: a query is covered while a fresh entry or a flight can
// answer it, and not once the entry expires.
func TestCovers(t *testing.T) {
	release := make(chan struct{})
	clk := newClock()
	c := New(resolver.Func(func(_ context.Context, q *resolver.Query) (*dns.Msg, error) {
		if q.Prefetched != nil {
			return q.Prefetched.Msg, nil
		}
		if q.Name() == "slow.example." {
			<-release
		}
		return replyWith(dns.RcodeSuccess, rrs(t, q.Name()+" 60 IN A 192.0.2.1"), nil, nil)(q.Msg)
	}), Options{Size: 100, Now: clk.Now})
	q := query("example.com.", dns.TypeA)
	if c.Covers(q.Msg) {
		t.Error("covered before any answer")
	}
	if _, err := c.Resolve(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	if !c.Covers(q.Msg) {
		t.Error("not covered with a fresh entry")
	}
	if c.Covers(query("example.com.", dns.TypeAAAA).Msg) {
		t.Error("another type covered")
	}
	clk.Advance(61 * time.Second)
	if c.Covers(q.Msg) {
		t.Error("covered by an expired entry")
	}

	slow := query("slow.example.", dns.TypeA)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Resolve(context.Background(), slow)
	}()
	for !c.Covers(slow.Msg) {
		time.Sleep(time.Millisecond) // until the flight is under way
	}
	// A prefetched query neither waits for that flight nor asks next.
	pre := query("slow.example.", dns.TypeA)
	ans := new(dns.Msg)
	ans.SetReply(pre.Msg)
	ans.Answer = rrs(t, "slow.example. 60 IN A 192.0.2.7")
	pre.Prefetched = &resolver.Prefetched{Msg: ans}
	defer func() { close(release); <-done }()
	type result struct {
		m   *dns.Msg
		err error
	}
	got := make(chan result, 1)
	go func() {
		m, err := c.Resolve(context.Background(), pre)
		got <- result{m, err}
	}()
	select {
	case r := <-got:
		if r.err != nil || len(r.m.Answer) != 1 || r.m.Answer[0].(*dns.A).A.String() != "192.0.2.7" {
			t.Fatalf("prefetched query: %v, %v", r.m, r.err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the prefetched query waits for the flight under way")
	}
}
