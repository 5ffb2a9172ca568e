package plainfwd

import (
	"sync"
	"time"
)

// key is what an answer is cached under: the lower-case question.
type key struct {
	name          string
	qtype, qclass uint16
}

type entry struct {
	wire    []byte // packed answer; never modified once stored
	expires time.Time
}

// cache is a map of packed answers behind one RWMutex. When full, storing
// a new answer evicts an arbitrary one (Go's map iteration starts at a
// random place); an expired entry stays until it is overwritten or evicted.
type cache struct {
	mu  sync.RWMutex
	m   map[key]entry
	max int
}

func newCache(size int) *cache {
	return &cache{m: make(map[key]entry), max: size}
}

// get returns the stored answer for k if it has not expired at now. The
// caller must not modify it.
func (c *cache) get(k key, now time.Time) []byte {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return nil
	}
	return e.wire
}

// put stores wire under k until expires.
func (c *cache) put(k key, wire []byte, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = entry{wire: wire, expires: expires}
}

// len is the number of entries, expired ones included.
func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
