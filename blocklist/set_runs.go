package blocklist

import (
	"bytes"
	"cmp"
	"slices"
)

// runChunkSize bounds the raw keys sorted at once. A run's front coding
// shares more the more keys it holds, and a chunk this size still sorts
// within the CPU's cache.
const runChunkSize = 1 << 20

// keyRuns collects the keys of a Matcher under construction, with the
// flags of their rules, in any order and with duplicates, and keeps them
// as sorted, front-coded runs that a merge later turns into the nameSet.
// Keys go first into a chunk of raw entries; a full chunk is sorted and
// encoded as one run, and the chunk is reused. Memory thus grows with the
// encoded size of the keys (about what the final set takes), not with the
// raw names, and nothing is allocated per key.
//
// A chunk holds the keys of one origin only (the builder flushes it when
// the source changes), so a run needs no origin per entry and the runs of
// one source can be dropped again (truncate).
type keyRuns struct {
	chunkSize int        // runChunkSize, smaller in tests
	chunk     []byte     // raw entries: key length, flags, key
	recs      []chunkRec // one per entry in chunk
	origin    nameFact   // of the keys in chunk, already shifted into place
	runs      []keyRun
}

// chunkRec locates an entry of the chunk for the sort. It holds the key's
// first 8 bytes, which decide most comparisons without a look at the
// chunk; its size does not matter, as it exists for one chunk at a time.
type chunkRec struct {
	p8  uint64
	off uint32
}

// keyRun is a sorted run of (key, flags) entries without duplicates:
// shared prefix length, suffix length, suffix, flags.
type keyRun struct {
	data   []byte
	origin nameFact
}

// add appends one key (a name, reversed into a key here) to the chunk.
func addKey[T string | []byte](r *keyRuns, name T, flags uint8) {
	need := 2 + len(name)
	size := r.chunkSize
	if size == 0 {
		size = runChunkSize
	}
	if len(r.chunk)+need > size {
		r.flush()
	}
	if len(r.chunk)+need > cap(r.chunk) {
		// Grow by doubling up to the chunk size, so that a builder fed a
		// few small lists never takes a whole chunk.
		c := make([]byte, len(r.chunk), min(max(2*cap(r.chunk), 64<<10, len(r.chunk)+need), size))
		copy(c, r.chunk)
		r.chunk = c
	}
	off := len(r.chunk)
	r.chunk = append(r.chunk, byte(len(name)), flags)
	r.chunk = appendKey(r.chunk, name)
	r.recs = append(r.recs, chunkRec{p8: prefix8(r.chunk[off+2:]), off: uint32(off)})
}

func (r *keyRuns) key(off uint32) []byte {
	return r.chunk[off+2 : off+2+uint32(r.chunk[off])]
}

// flush sorts the chunk and encodes it as a run. The run is sized exactly,
// so it leaves no slack behind.
func (r *keyRuns) flush() {
	if len(r.recs) == 0 {
		return
	}
	slices.SortFunc(r.recs, func(a, b chunkRec) int {
		if a.p8 != b.p8 {
			return cmp.Compare(a.p8, b.p8)
		}
		if c := bytes.Compare(r.key(a.off), r.key(b.off)); c != 0 {
			return c
		}
		return cmp.Compare(r.chunk[a.off+1], r.chunk[b.off+1])
	})
	size := 0
	r.eachDistinct(func(key, prev []byte, _ uint8) {
		size += 3 + len(key) - commonPrefix(key, prev)
	})
	data := make([]byte, 0, size)
	r.eachDistinct(func(key, prev []byte, flags uint8) {
		shared := commonPrefix(key, prev)
		data = append(data, byte(shared), byte(len(key)-shared))
		data = append(data, key[shared:]...)
		data = append(data, flags)
	})
	r.runs = append(r.runs, keyRun{data: data, origin: r.origin})
	r.chunk, r.recs = r.chunk[:0], r.recs[:0]
}

// eachDistinct calls f for every distinct (key, flags) of the sorted chunk,
// with the key before it (nil for the first).
func (r *keyRuns) eachDistinct(f func(key, prev []byte, flags uint8)) {
	var prev []byte
	prevFlags := uint8(0)
	for i, rec := range r.recs {
		key, flags := r.key(rec.off), r.chunk[rec.off+1]
		if i > 0 && flags == prevFlags && bytes.Equal(key, prev) {
			continue
		}
		f(key, prev, flags)
		prev, prevFlags = key, flags
	}
}

// truncate drops the keys added since there were n runs (and the chunk
// was empty).
func (r *keyRuns) truncate(n int) {
	clear(r.runs[n:])
	r.runs = r.runs[:n]
	r.chunk, r.recs = r.chunk[:0], r.recs[:0]
}

// done flushes the last chunk and frees the chunk buffers.
func (r *keyRuns) done() {
	r.flush()
	r.chunk, r.recs = nil, nil
}

// runCursor reads one run entry by entry.
type runCursor struct {
	run  keyRun
	p    int
	key  []byte
	fact nameFact
}

func (c *runCursor) next() bool {
	d := c.run.data
	if c.p >= len(d) {
		return false
	}
	shared, n := int(d[c.p]), int(d[c.p+1])
	c.key = append(c.key[:shared], d[c.p+2:c.p+2+n]...)
	c.fact = c.run.origin | nameFact(d[c.p+2+n])
	c.p += 3 + n
	return true
}

// runMerger merges runs into the distinct keys in order, each with the
// facts of every run that has it.
type runMerger struct {
	heap  []*runCursor // a min-heap by key
	key   []byte
	facts []nameFact
}

func newRunMerger(runs []keyRun) *runMerger {
	m := &runMerger{key: make([]byte, 0, maxKeyLen)}
	for _, r := range runs {
		c := &runCursor{run: r, key: make([]byte, 0, maxKeyLen)}
		if c.next() {
			m.heap = append(m.heap, c)
		}
	}
	for i := len(m.heap)/2 - 1; i >= 0; i-- {
		m.down(i)
	}
	return m
}

// next moves to the next key: m.key, with its facts sorted and distinct in
// m.facts. Both are valid until the next call.
func (m *runMerger) next() bool {
	if len(m.heap) == 0 {
		return false
	}
	m.key = append(m.key[:0], m.heap[0].key...)
	m.facts = m.facts[:0]
	for len(m.heap) > 0 && bytes.Equal(m.heap[0].key, m.key) {
		c := m.heap[0]
		m.facts = append(m.facts, c.fact)
		if !c.next() {
			last := len(m.heap) - 1
			m.heap[0] = m.heap[last]
			m.heap = m.heap[:last]
		}
		m.down(0)
	}
	if len(m.facts) > 1 {
		// Facts in origin order, as Lookup relies on: at equal level the
		// first fact (the first category) decides.
		slices.Sort(m.facts)
		m.facts = slices.Compact(m.facts)
	}
	return true
}

func (m *runMerger) down(i int) {
	h := m.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		j := l
		if r := l + 1; r < len(h) && bytes.Compare(h[r].key, h[l].key) < 0 {
			j = r
		}
		if bytes.Compare(h[j].key, h[i].key) >= 0 {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}
