package cache

import (
	"context"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

// flight is one call to the next step that concurrent misses for the same
// key share. Its result fields are written by the leader before done is
// closed and only read by waiters after, so they need no lock; waiters is
// guarded by Cache.mu.
type flight struct {
	done     chan struct{}
	waiters  int
	msg      *dns.Msg // the leader's answer, a copy only read from (nil on error)
	err      error
	upstream string // the leader's Trace.Upstream
}

// wait returns the leader's result, a copy of the answer of its own, or
// the context's error if ctx ends first. A leader whose own context ends
// makes every waiter fail with it; they may then still be served stale.
func (f *flight) wait(ctx context.Context, q *resolver.Query) (*dns.Msg, error) {
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	q.Trace.Upstream = f.upstream
	if f.err != nil {
		return nil, f.err
	}
	return f.msg.Copy(), nil
}
