// Package cache is the chain step that answers repeated questions from
// memory: packed answers with a per-entry expiry, negative caching, and
// serve-stale.
package cache

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

// DefaultStaleTTL is the TTL given to stale answers when Options.StaleTTL is
// zero; RFC 8767 section 4 recommends 30 seconds.
const DefaultStaleTTL = 30 * time.Second

// errNoAnswer stands in for a next step that broke the contract by returning
// neither an answer nor an error.
var errNoAnswer = errors.New("cache: next step returned no answer and no error")

// Options configure a Cache.
type Options struct {
	Size       int           // entries; <= 0 disables caching (every query goes to next)
	MinTTL     time.Duration // bounds applied to the answer's TTL
	MaxTTL     time.Duration // 0 = no upper bound; wins over MinTTL if smaller
	ServeStale time.Duration // how long after expiry an entry may still be served when the next step fails; 0 = never
	StaleTTL   time.Duration // TTL given to stale answers (0 = DefaultStaleTTL)
	Now        func() time.Time
}

// Stats are the cache's counters since it was built.
type Stats struct {
	Hits      uint64 // answered from a fresh entry
	Misses    uint64 // passed on to the next step
	Stale     uint64 // answered from an expired entry after the next step failed
	Evictions uint64 // entries pushed out by the size bound
	Entries   int    // entries held now, expired ones still in the stale window included
}

// Cache is a resolver.Resolver that answers from memory and passes
// everything else on to the next step, remembering what comes back.
type Cache struct {
	next     resolver.Resolver
	lru      *lru.Cache[uint64, entry] // by slot(key); nil when caching is disabled
	seed     maphash.Seed
	slot     func(key) uint64 // a test's may collide at will
	now      func() time.Time
	epoch    time.Time // entries' times are offsets from it
	minTTL   uint32    // seconds
	maxTTL   uint32    // seconds; 0 = no bound
	stale    time.Duration
	staleTTL uint32 // seconds

	mu      sync.Mutex
	flights map[key]*flight

	hits, misses, staleServed, evictions atomic.Uint64
}

// New returns a cache in front of next.
func New(next resolver.Resolver, opt Options) *Cache {
	c := &Cache{
		next:     next,
		now:      opt.Now,
		minTTL:   seconds(opt.MinTTL),
		maxTTL:   seconds(opt.MaxTTL),
		stale:    max(opt.ServeStale, 0),
		staleTTL: seconds(opt.StaleTTL),
		flights:  make(map[key]*flight),
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.epoch = c.now()
	if c.staleTTL == 0 {
		c.staleTTL = seconds(DefaultStaleTTL)
	}
	if opt.Size > 0 {
		// lru.New fails only for a size <= 0, ruled out just above.
		c.lru, _ = lru.New[uint64, entry](opt.Size)
	}
	c.seed = maphash.MakeSeed()
	c.slot = c.hash
	return c
}

// hash is the LRU key of k. Two keys may share one: the entry holds its
// full key, and every lookup checks it (see entry).
func (c *Cache) hash(k key) uint64 {
	h := maphash.String(c.seed, k.name)
	return h ^ (uint64(k.qtype)<<24|uint64(k.qclass)<<8|uint64(k.flags))*0x9e3779b97f4a7c15
}

// peek returns the entry for k without touching its recency.
func (c *Cache) peek(k *key) (entry, bool) {
	e, ok := c.lru.Peek(c.slot(*k))
	if !ok || !e.is(k) {
		return nil, false
	}
	return e, true
}

// Resolve answers q from a fresh entry, or asks the next step and remembers
// the answer. When the next step fails, an entry that expired no more than
// Options.ServeStale ago is served instead.
func (c *Cache) Resolve(ctx context.Context, q *resolver.Query) (*dns.Msg, error) {
	if c.lru == nil || q.Msg == nil || len(q.Msg.Question) != 1 {
		c.misses.Add(1)
		q.Trace.Cache = resolver.CacheMiss
		return c.next.Resolve(ctx, q)
	}
	k := keyOf(q.Msg)
	// A prefetched query went upstream because there was no fresh entry
	// (Covers), and its answer is in hand: no lookup.
	if q.Prefetched == nil {
		if m := c.hit(k, q); m != nil {
			return m, nil
		}
	}

	c.misses.Add(1)
	q.Trace.Cache = resolver.CacheMiss
	m, err := c.fetch(ctx, q, k)
	// Any other rcode (SERVFAIL, REFUSED, ...) is the upstreams failing:
	// the forwarder passes such an answer on only when none did better.
	if err == nil && (m.Rcode == dns.RcodeSuccess || m.Rcode == dns.RcodeNameError) {
		return m, nil
	}
	if s := c.serveStale(k, q); s != nil {
		return s, nil
	}
	return m, err
}

// Covers reports whether Resolve would answer m without asking the next
// step itself: from a fresh entry, or by waiting for a flight under way.
// The server asks before it fetches an answer itself (see
// resolver.Prefetched); m's name must be lower case.
func (c *Cache) Covers(m *dns.Msg) bool {
	if c.lru == nil || len(m.Question) != 1 {
		return false
	}
	k := keyOf(m)
	if e, ok := c.peek(&k); ok && c.since() < e.expires() {
		return true
	}
	c.mu.Lock()
	_, ok := c.flights[k]
	c.mu.Unlock()
	return ok
}

// hit returns the fresh entry for k, if there is one.
func (c *Cache) hit(k key, q *resolver.Query) *dns.Msg {
	e, ok := c.lru.Get(c.slot(k))
	if !ok || !e.is(&k) {
		return nil
	}
	t := c.since()
	if t >= e.expires() {
		return nil
	}
	m, err := e.fresh(t - e.stored())
	if err != nil {
		return nil
	}
	c.hits.Add(1)
	q.Trace.Cache = resolver.CacheHit
	return m
}

// serveStale returns the entry for k if it may still be served after the
// next step failed, or nil.
func (c *Cache) serveStale(k key, q *resolver.Query) *dns.Msg {
	if c.stale == 0 {
		return nil
	}
	e, ok := c.peek(&k)
	if !ok {
		return nil
	}
	t := c.since()
	if t < e.expires() {
		// Stored by another flight after ours failed: it is simply fresh.
		if m, err := e.fresh(t - e.stored()); err == nil {
			q.Trace.Cache = resolver.CacheHit
			return m
		}
		return nil
	}
	if t >= e.expires()+c.stale {
		return nil
	}
	m, err := e.staleMsg(c.staleTTL)
	if err != nil {
		return nil
	}
	c.staleServed.Add(1)
	q.Trace.Cache = resolver.CacheStale
	return m
}

// fetch asks the next step, letting only one of several concurrent callers
// with the same key through; the others wait for its result.
func (c *Cache) fetch(ctx context.Context, q *resolver.Query, k key) (*dns.Msg, error) {
	if q.Prefetched != nil {
		// The answer is in hand: no waiting on a flight, and none for
		// others to wait on (see resolver.Prefetched).
		m, err := c.next.Resolve(ctx, q)
		if err == nil && m != nil {
			c.store(k, m)
		}
		return m, err
	}
	c.mu.Lock()
	if f, ok := c.flights[k]; ok {
		f.waiters++
		if f.done == nil {
			f.done = make(chan struct{})
		}
		done := f.done
		c.mu.Unlock()
		return f.wait(ctx, q, done)
	}
	f := flights.Get().(*flight)
	c.flights[k] = f
	c.mu.Unlock()
	return c.lead(ctx, q, k, f)
}

// lead runs the flight f: asks the next step, stores the answer and hands
// the result to any waiters. The deferred hand-over runs even if next
// panics, so waiters are never left hanging.
func (c *Cache) lead(ctx context.Context, q *resolver.Query, k key, f *flight) (m *dns.Msg, err error) {
	err = errNoAnswer
	defer func() {
		c.mu.Lock()
		delete(c.flights, k)
		done := f.done // nil: no caller waits, none can find f any more
		c.mu.Unlock()
		if done == nil {
			f.free()
			return
		}
		f.err = err
		if m != nil {
			f.msg = m.Copy() // the caller may change m once we return
		}
		f.upstream = q.Trace.Upstream
		close(done)
	}()

	m, err = c.next.Resolve(ctx, q)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errNoAnswer
	}
	c.store(k, m)
	return m, nil
}

// store remembers m under k if it is cacheable, normalising m in place
// (TTLs clamped, OPT removed) so the caller returns what later hits return.
func (c *Cache) store(k key, m *dns.Msg) {
	ttl, ok := c.cacheTTL(m)
	if !ok {
		c.dropDead(k)
		return
	}
	c.normalise(m)
	compress := m.Compress
	m.Compress = true // smaller entries; only unpack reads them
	bp := packBufs.Get().(*[]byte)
	packed, err := m.PackBuffer(*bp)
	m.Compress = compress
	if err != nil {
		packBufs.Put(bp)
		c.dropDead(k)
		return
	}
	// A copy of its exact size: Pack would leave the entry a buffer of the
	// uncompressed length, for as long as it lives.
	t := c.since()
	e := newEntry(&k, packed, t, t+time.Duration(ttl)*time.Second)
	packBufs.Put(bp)
	// Under another key's hash, that key's entry is replaced: a cache
	// may forget.
	if c.lru.Add(c.slot(k), e) {
		c.evictions.Add(1)
	}
}

// packBufs hold the scratch buffers answers are packed into before they
// are copied into entries of their exact size. PackBuffer takes a larger
// buffer of its own when an answer does not fit; that one is not kept.
var packBufs = sync.Pool{New: func() any { b := make([]byte, 1024); return &b }}

// dropDead removes the entry for k if it can no longer be served, even
// stale. Only the leader of a flight for k calls it, so it cannot race with
// a store for the same key.
func (c *Cache) dropDead(k key) {
	if e, ok := c.peek(&k); ok && c.since() >= e.expires()+c.stale {
		c.lru.Remove(c.slot(k))
	}
}

// Len returns the number of entries held, expired ones still in the stale
// window included.
func (c *Cache) Len() int {
	if c.lru == nil {
		return 0
	}
	return c.lru.Len()
}

// Purge drops every entry.
func (c *Cache) Purge() {
	if c.lru != nil {
		c.lru.Purge()
	}
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	return Stats{
		Hits:      c.hits.Load(),
		Misses:    c.misses.Load(),
		Stale:     c.staleServed.Load(),
		Evictions: c.evictions.Load(),
		Entries:   c.Len(),
	}
}

// since is the time now as an offset from the epoch: on the monotonic
// clock, as the time.Time values entries once held, when c.now reads it.
func (c *Cache) since() time.Duration { return c.now().Sub(c.epoch) }

// seconds converts d to whole seconds for a TTL, saturating at the largest
// TTL and flooring negative durations at 0.
func seconds(d time.Duration) uint32 {
	s := d / time.Second
	switch {
	case s <= 0:
		return 0
	case s > 1<<31-1: // RFC 2181 section 8: TTLs above 2^31-1 are treated as 0; never produce one
		return 1<<31 - 1
	}
	return uint32(s)
}
