package cache

import (
	"context"
	"sync"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

// flight is one call to the next step that concurrent misses for the same
// key share. Its result fields are written by the leader before done is
// closed and only read by waiters after, so they need no lock; waiters and
// done are guarded by Cache.mu.
//
// Most misses are nobody else's: done is made by the first waiter, and a
// flight nobody waited on goes back to the pool, so that such a miss costs
// neither allocation.
type flight struct {
	done     chan struct{} // nil until a second caller waits
	waiters  int
	msg      *dns.Msg // the leader's answer, a copy only read from (nil on error)
	err      error
	upstream string // the leader's Trace.Upstream
}

var flights = sync.Pool{New: func() any { return new(flight) }}

// free returns a flight nobody waited on to the pool.
func (f *flight) free() {
	*f = flight{}
	flights.Put(f)
}

// wait returns the leader's result, a copy of the answer of its own, or
// the context's error if ctx ends first. A leader whose own context ends
// makes every waiter fail with it; they may then still be served stale.
func (f *flight) wait(ctx context.Context, q *resolver.Query, done <-chan struct{}) (*dns.Msg, error) {
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	q.Trace.Upstream = f.upstream
	if f.err != nil {
		return nil, f.err
	}
	return f.msg.Copy(), nil
}
