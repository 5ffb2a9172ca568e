package metrics

import (
	"maps"
	"sync"
	"sync/atomic"
)

// maxChildren bounds a children cache. The label values come from config
// and are few; past this many, something is feeding unbounded values and
// copying an ever larger map on every new one would make it worse.
const maxChildren = 4096

// children caches metric children by label tuple. Reads take no lock and
// allocate nothing: the map is replaced, never changed, so a reader always
// sees a complete snapshot. A write copies the map, which happens once per
// distinct tuple.
type children[K comparable, V any] struct {
	m  atomic.Pointer[map[K]V]
	mu sync.Mutex // serialises writers
}

func (c *children[K, V]) load(k K) (V, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// store returns the cached child for k, making it with create if there is
// none yet.
func (c *children[K, V]) store(k K, create func(K) V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	v := create(k)
	var next map[K]V
	if old == nil {
		next = make(map[K]V)
	} else if len(*old) >= maxChildren {
		return v // served uncached: still counted, only slower
	} else {
		next = maps.Clone(*old)
	}
	next[k] = v
	c.m.Store(&next)
	return v
}
