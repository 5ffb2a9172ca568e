package server

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
)

// inflightShards spreads the per-client counts over this many locks, so
// that queries from different clients seldom wait for each other.
const (
	inflightBits   = 6
	inflightShards = 1 << inflightBits
)

// inflightLimiter counts the queries being answered, overall and per
// client address, over every transport. Connection caps alone do not bound
// the work a client makes: one DoT or DoH connection may pipeline hundreds
// of queries, and UDP has no connections at all. Each query in the chain
// holds a goroutine, its buffers and, on a cache miss, an upstream
// exchange; a client sending thousands of queries for names that miss the
// cache must not hold them all.
type inflightLimiter struct {
	max, perIP int64
	total      atomic.Int64
	shards     [inflightShards]inflightShard
}

type inflightShard struct {
	mu sync.Mutex
	n  map[netip.Addr]int64
	// Shards sit on their own cache lines: clients in different shards
	// do not slow each other down.
	_ [64 - 16]byte
}

func newInflightLimiter(max, perIP int) *inflightLimiter {
	l := &inflightLimiter{max: int64(max), perIP: int64(perIP)}
	for i := range l.shards {
		l.shards[i].n = make(map[netip.Addr]int64)
	}
	return l
}

// acquire takes a place for one query from ip, and reports false, taking
// nothing, when ip or the server as a whole has no place left. It does not
// allocate once ip's shard has seen a few clients.
func (l *inflightLimiter) acquire(ip netip.Addr) bool {
	if l.total.Add(1) > l.max {
		l.total.Add(-1)
		return false
	}
	s := l.shard(ip)
	s.mu.Lock()
	n := s.n[ip]
	if n >= l.perIP {
		s.mu.Unlock()
		l.total.Add(-1)
		return false
	}
	s.n[ip] = n + 1
	s.mu.Unlock()
	return true
}

// release gives back a place acquire took for ip.
func (l *inflightLimiter) release(ip netip.Addr) {
	s := l.shard(ip)
	s.mu.Lock()
	if n := s.n[ip]; n > 1 {
		s.n[ip] = n - 1
	} else {
		// An idle client costs no memory.
		delete(s.n, ip)
	}
	s.mu.Unlock()
	l.total.Add(-1)
}

// counts returns the queries in flight overall and from ip.
func (l *inflightLimiter) counts(ip netip.Addr) (total, fromIP int64) {
	s := l.shard(ip)
	s.mu.Lock()
	defer s.mu.Unlock()
	return l.total.Load(), s.n[ip]
}

func (l *inflightLimiter) shard(ip netip.Addr) *inflightShard {
	b := ip.As16()
	h := binary.LittleEndian.Uint64(b[:8]) ^ binary.LittleEndian.Uint64(b[8:])
	// Fibonacci hashing: the top bits depend on every bit of the address,
	// so that clients differing only in their last byte spread out.
	h *= 0x9e3779b97f4a7c15
	return &l.shards[h>>(64-inflightBits)]
}
