package blocklist

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"
)

// runChunkSize bounds the raw keys sorted at once. A run's front coding
// shares more the more keys it holds, and a chunk this size still sorts
// within the CPU's cache.
const runChunkSize = 1 << 20

// keyRuns collects the keys of a Matcher under construction, with the
// flags of their rules, in any order and with duplicates, and keeps them
// as sorted, front-coded runs that a merge later turns into the segments.
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
	tmp       []chunkRec // the sort's scratch
	origin    nameFact   // of the keys in chunk, already shifted into place
	runs      []keyRun
}

// chunkRec locates an entry of the chunk for the sort. It holds the
// headPrefix of the key, by which the sort mostly goes without a look at
// the chunk.
type chunkRec struct {
	prefix uint64
	off    uint32
}

// keyRun is a sorted run of (key, flags) entries without duplicates,
// front-coded (see appendRunEntry). It is kept in pages of at most
// runPageSize bytes (an entry never straddles two), so that the merge that
// reads it can let each page go as soon as it is read.
type keyRun struct {
	pages  [][]byte
	origin nameFact
	n      int // entries
}

// runPageSize is the size of a run's pages: small enough that a page let go
// during the merge is soon reused by what the merge writes.
const runPageSize = 64 << 10

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
		// 64 KiB first, so that a builder fed a few small lists never
		// takes a whole chunk, then the whole chunk at once: growing by
		// doubling would leave a trail of garbage as big as the chunk.
		// The records grow with it, at a record per 16 bytes of chunk
		// (a key is about 20 bytes).
		n := min(max(64<<10, len(r.chunk)+need), size)
		if cap(r.chunk) > 0 {
			n = size
		}
		c := make([]byte, len(r.chunk), n)
		copy(c, r.chunk)
		r.chunk = c
		recs := make([]chunkRec, len(r.recs), max(n/16, len(r.recs)))
		copy(recs, r.recs)
		r.recs = recs
	}
	off := len(r.chunk)
	r.chunk = append(r.chunk, byte(len(name)), flags)
	r.chunk = appendKey(r.chunk, name)
	r.recs = append(r.recs, chunkRec{prefix: headPrefix(r.chunk[off+2:]), off: uint32(off)})
}

func (r *keyRuns) key(off uint32) []byte {
	return r.chunk[off+2 : off+2+uint32(r.chunk[off])]
}

// flush sorts the chunk and encodes it as a run. The run's pages are
// sized to what they hold, so it leaves no slack behind.
func (r *keyRuns) flush() {
	if len(r.recs) == 0 {
		return
	}
	r.sort()
	size := 0
	prevFlags := uint8(0)
	r.eachDistinct(func(key, prev []byte, flags uint8) {
		size += runEntrySize(commonPrefix(key, prev), len(key), flags != prevFlags)
		prevFlags = flags
	})
	run := keyRun{origin: r.origin}
	var page []byte
	prevFlags = 0
	r.eachDistinct(func(key, prev []byte, flags uint8) {
		shared := commonPrefix(key, prev)
		n := runEntrySize(shared, len(key), flags != prevFlags)
		if len(page)+n > cap(page) {
			if len(page) > 0 {
				run.pages = append(run.pages, page)
			}
			page = make([]byte, 0, min(runPageSize, size))
		}
		size -= n
		run.n++
		page = appendRunEntry(page, key, shared, flags, prevFlags)
		prevFlags = flags
	})
	run.pages = append(run.pages, page)
	r.runs = append(r.runs, run)
	r.chunk, r.recs = r.chunk[:0], r.recs[:0]
}

// A run entry is written as a nameSet entry is, with the flags for a
// payload: a header byte (shared length, and whether flags follow, else
// they are the previous entry's), then the rest of the key, which the next
// header or the end of the page ends. A key may repeat with other flags,
// so the rest may be empty.
func runEntrySize(shared, keyLen int, newFlags bool) int {
	n := 1 + keyLen - shared
	if shared >= sharedLong {
		n++
	}
	if newFlags {
		n++
	}
	return n
}

func appendRunEntry(page, key []byte, shared int, flags, prevFlags uint8) []byte {
	h := byte(entryStart | min(shared, sharedLong))
	if flags != prevFlags {
		h |= entryPayload
	}
	page = append(page, h)
	if shared >= sharedLong {
		page = append(page, byte(shared))
	}
	if flags != prevFlags {
		page = append(page, flags)
	}
	return append(page, key[shared:]...)
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
	r.chunk, r.recs, r.tmp = nil, nil, nil
}

// runCursor reads one run entry by entry, letting each page go once read.
type runCursor struct {
	run   *keyRun
	page  int // in run.pages
	p     int // in the page
	key   []byte
	k8    uint64 // the first 8 bytes of key, big endian, zero-padded
	flags uint32 // of the entry, which the next inherits unless it has its own
	fact  nameFact
}

func (c *runCursor) next(free *pagePool) bool {
	d := c.run.pages[c.page]
	for c.p >= len(d) {
		free.put(d)
		c.run.pages[c.page] = nil
		if c.page++; c.page == len(c.run.pages) {
			return false
		}
		d, c.p = c.run.pages[c.page], 0
	}
	var shared int
	shared, c.flags, c.p = readHeader(d, c.p, c.flags)
	end := suffixEnd(d, c.p)
	c.key = append(c.key[:shared], d[c.p:end]...)
	c.p = end
	if shared < 8 {
		c.k8 = first8(c.key)
	}
	c.fact = c.run.origin | nameFact(c.flags)
	return true
}

// compare orders the keys of two cursors, mostly by their first 8 bytes.
func (c *runCursor) compare(d *runCursor) int {
	if c.k8 != d.k8 {
		return cmp.Compare(c.k8, d.k8)
	}
	return bytes.Compare(c.key, d.key)
}

// first8 returns the first 8 bytes of k, big endian, zero-padded: keys
// have no zero byte, so it orders keys as bytes.Compare does, but for ties.
func first8(k []byte) uint64 {
	if len(k) >= 8 {
		return binary.BigEndian.Uint64(k)
	}
	var b [8]byte
	copy(b[:], k)
	return binary.BigEndian.Uint64(b[:])
}

// runMerger merges runs into the distinct keys in order, each with the
// facts of every run that has it. It consumes the runs: every page it has
// read is dropped from its run and put in free, for the caller to reuse.
type runMerger struct {
	heap  []*runCursor // a min-heap by key
	key   []byte
	facts []nameFact
	free  pagePool
}

// pagePool holds the full-size pages of runs already merged. Whoever
// writes the merged keys reuses them (see segmentWriter): the memory the
// merge frees is taken at once by what it writes, without waiting for the
// garbage collector, so that a build holds about the runs or the set, not
// both.
type pagePool struct{ pages [][]byte }

func (p *pagePool) put(b []byte) {
	if cap(b) == runPageSize {
		p.pages = append(p.pages, b[:0])
	}
}

// get returns a page with room for n bytes, or nil if there is none or if
// n would leave most of it empty.
func (p *pagePool) get(n int) []byte {
	if p == nil || len(p.pages) == 0 || n > runPageSize || n < runPageSize/2 {
		return nil
	}
	b := p.pages[len(p.pages)-1]
	p.pages[len(p.pages)-1] = nil
	p.pages = p.pages[:len(p.pages)-1]
	return b
}

func newRunMerger(runs []keyRun) *runMerger {
	m := &runMerger{key: make([]byte, 0, maxKeyLen)}
	for i := range runs {
		if len(runs[i].pages) == 0 {
			continue
		}
		c := &runCursor{run: &runs[i], key: make([]byte, 0, maxKeyLen)}
		if c.next(&m.free) {
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
	k8 := m.heap[0].k8
	for len(m.heap) > 0 && m.heap[0].k8 == k8 && bytes.Equal(m.heap[0].key, m.key) {
		c := m.heap[0]
		m.facts = append(m.facts, c.fact)
		if !c.next(&m.free) {
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
		if r := l + 1; r < len(h) && h[r].compare(h[l]) < 0 {
			j = r
		}
		if h[j].compare(h[i]) >= 0 {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}
