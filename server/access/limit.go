package access

import (
	"math"
	"sync"
)

// limit is one token-bucket rate in the form the generic cell rate
// algorithm (GCRA) uses: a bucket is a single "theoretical arrival time"
// (tat), the instant at which it would be full again. Each query pushes tat
// one interval further; a query is refused when that would put tat more
// than tau (burst intervals) ahead of now. This is exactly a token bucket
// of size burst refilling at rate, kept in one int64 with no floats, and a
// bucket whose tat has passed is full, the same as no bucket at all.
type limit struct {
	interval int64 // nanoseconds per token; 0 = unlimited
	tau      int64 // interval * burst
}

// Bounds keeping interval*burst and now+tau far from overflow.
const (
	maxInterval = int64(1) << 45 // about 9.8 hours per token
	maxBurst    = 1 << 16
)

func newLimit(rate float64, burst int) limit {
	if !(rate > 0) || math.IsInf(rate, 1) {
		return limit{}
	}
	iv := int64(math.Min(math.Round(1e9/rate), float64(maxInterval)))
	iv = max(iv, 1)
	if burst <= 0 {
		burst = int(math.Min(math.Ceil(2*rate), maxBurst))
	}
	burst = min(max(burst, 1), maxBurst)
	return limit{interval: iv, tau: iv * int64(burst)}
}

func (l limit) on() bool { return l.interval > 0 }

// ways is how many buckets share a set. Eight keeps a lookup to a scan of
// two cache lines while making it unlikely that a set is full of buckets
// that are all still in use.
const ways = 8

// set is a few buckets under one lock. Locking per set rather than per
// table lets parallel Checks of different clients run without contention.
type set struct {
	mu      sync.Mutex
	evicted uint64 // buckets dropped while not yet full
	key     [ways]key
	tat     [ways]int64
}

// table is a fixed-size, set-associative store of buckets: a key can live
// only in the set its hash picks. When none of the set's buckets is the
// key's and all are in use, the one nearest to full (smallest tat) is
// reused. That bucket had the least to remember: the clients being held
// back carry the largest tat, so a flood of new, spoofed addresses evicts
// the flood's own buckets before it frees a throttled client. Memory is
// allocated once and never grows.
type table struct {
	sets []set
	seed uint64
}

func newTable(maxBuckets int, seed uint64) *table {
	t := &table{sets: make([]set, max(maxBuckets/ways, 1)), seed: seed}
	for i := range t.sets {
		for j := range t.sets[i].tat {
			t.sets[i].tat[j] = math.MinInt64 // empty: full since forever
		}
	}
	return t
}

// take spends one token of k's bucket at now (nanoseconds), reporting
// whether there was one.
func (t *table) take(k key, l limit, now int64) bool {
	// Lemire's multiply-shift maps the hash onto the sets without a
	// division.
	h := hash(k, t.seed) >> 32
	s := &t.sets[h*uint64(len(t.sets))>>32]
	s.mu.Lock()
	slot, found := 0, false
	for i := range ways {
		if s.key[i] == k {
			slot, found = i, true
			break
		}
		if s.tat[i] < s.tat[slot] {
			slot = i
		}
	}
	tat := s.tat[slot]
	if !found {
		if tat > now {
			s.evicted++
		}
		tat = now
	}
	tat = max(tat, now) + l.interval
	ok := tat-now <= l.tau
	if ok {
		s.key[slot], s.tat[slot] = k, tat
	}
	s.mu.Unlock()
	return ok
}

// stats counts the buckets not yet full at now, and the evictions.
func (t *table) stats(now int64) (live int, evicted uint64) {
	for i := range t.sets {
		s := &t.sets[i]
		s.mu.Lock()
		for _, tat := range s.tat {
			if tat > now {
				live++
			}
		}
		evicted += s.evicted
		s.mu.Unlock()
	}
	return live, evicted
}
