package blocklist

import (
	"bytes"
	"encoding/binary"
	"runtime"
)

// segSet is a set of keys cut into segments of the key order, each its own
// nameSet: segment i holds keys from its first one up to segment i+1's
// first. Finding a key's segment is one binary search over a small array.
// The names are cut so that a refresh can rewrite them one segment at a
// time (see compact) instead of holding a second copy of all of them.
//
// One Bloom filter covers every key: most names looked up are not stored,
// nor are most of their ancestors, and the filter rules those out with one
// memory read, before any search.
type segSet struct {
	segs   []nameSet
	heads  []uint64 // headPrefix of each segment's first key
	n      int
	filter keyFilter
}

// segmentBytes bounds the front-coded data of a segment when it is written.
// It is a whole number of the allocator's 8 KiB pages, which is what a
// large slice really takes.
const segmentBytes = 64 << 10

// gcStep is how many bytes of build scratch may be let go between two
// collections during a big build. The garbage collector would otherwise
// wait for the heap to double before it runs, and until it runs, the pages
// let go cannot take the pages written next: the peak would be the scratch
// and the result side by side, which a build that frees its scratch as it
// writes is meant to avoid.
const gcStep = 512 << 10

// find returns the payload of key, whose keyHash is h. It does not
// allocate.
func (s *segSet) find(key []byte, h uint64) (uint32, bool) {
	if len(s.segs) == 0 || !s.filter.mayContain(h) {
		return 0, false
	}
	k8 := headPrefix(key)
	_, payload, ok := s.segs[s.segmentPrefixed(key, k8)].locatePrefixed(key, k8)
	return payload, ok
}

// segment returns the index of the segment whose range holds key: the
// last one whose first key is <= key, or the first one.
func (s *segSet) segment(key []byte) int { return s.segmentPrefixed(key, headPrefix(key)) }

func (s *segSet) segmentPrefixed(key []byte, k8 uint64) int {
	return max(lastAtMost(s.heads, k8, key, s.first), 0)
}

func (s *segSet) first(i int) []byte { return s.segs[i].first() }

// find returns the combination of key, whose keyHash is h. It does not
// allocate.
func (m *Matcher) find(key []byte, h uint64) (uint32, bool) {
	if m.over != nil {
		if id, ok := m.over.find(key, h); ok {
			return id, true
		}
	}
	return m.names.find(key, h)
}

// eachName calls f for every name the Matcher holds, in key order, with
// its combination: the names of the segments, as over amends them.
func (m *Matcher) eachName(f func(key []byte, id uint32)) {
	var sc, oc segsCursor
	sc.reset(m.names.segs)
	okS := sc.next()
	okO := false
	if m.over != nil {
		oc.reset(m.over.segs)
		okO = oc.next()
	}
	for okS || okO {
		c := 0
		switch {
		case !okO:
			c = -1
		case !okS:
			c = 1
		default:
			c = bytes.Compare(sc.c.key, oc.c.key)
		}
		if c < 0 {
			f(sc.c.key, sc.c.payload)
			okS = sc.next()
			continue
		}
		if m.comboLen(oc.c.payload) > 0 {
			f(oc.c.key, oc.c.payload)
		}
		if c == 0 {
			okS = sc.next()
		}
		okO = oc.next()
	}
}

// comboLen is the number of facts of combination id; 0 marks a name
// removed by over.
func (m *Matcher) comboLen(id uint32) int { return len(m.combo(id)) }

// segsCursor reads the names of consecutive segments as one sequence.
type segsCursor struct {
	segs []nameSet
	i    int
	c    setCursor
}

func (s *segsCursor) reset(segs []nameSet) {
	s.segs, s.i = segs, 0
	if len(segs) > 0 {
		s.c.reset(&segs[0])
	}
}

func (s *segsCursor) next() bool {
	for s.i < len(s.segs) {
		if s.c.next() {
			return true
		}
		if s.i++; s.i < len(s.segs) {
			s.c.reset(&s.segs[s.i])
		}
	}
	return false
}

// segmentWriter cuts a stream of keys in increasing order into segments of
// at most limit bytes of data (a key longer than that gets one of its
// own). Each segment is written into one reused builder and copied out,
// into a page of the pool or a slice of its exact size, so writing leaves
// no garbage behind but that builder.
type segmentWriter struct {
	b     setBuilder
	limit int
	out   segSet
	pages *pagePool // where to take the data of a segment from first, if not nil
}

func (w *segmentWriter) add(key []byte, payload uint32) {
	// The most the entry can take: header, long shared length, payload.
	if len(w.b.set.data)+2+binary.MaxVarintLen32+len(key) > w.limit {
		w.cut()
	}
	w.b.add(key, payload)
}

// written returns the bytes of data written so far.
func (w *segmentWriter) written() int {
	n := len(w.b.set.data)
	for i := range w.out.segs {
		n += len(w.out.segs[i].data)
	}
	return n
}

// cut ends the segment being written, if it has a key.
func (w *segmentWriter) cut() {
	if w.b.set.n == 0 {
		return
	}
	var s nameSet
	if page := w.pages.get(len(w.b.set.data)); page != nil {
		s = w.b.set
		s.data = append(page, s.data...)
		s.starts = exactCopy(s.starts)
		s.heads = exactCopy(s.heads)
	} else {
		s = w.b.clone()
	}
	w.out.segs = append(w.out.segs, s)
	w.out.heads = append(w.out.heads, s.heads[0])
	w.out.n += s.n
	w.b.reset()
}

// take cuts and returns the segments written, and starts afresh. The set
// has no filter yet: see withFilter.
func (w *segmentWriter) take() segSet {
	w.cut()
	s := w.out
	s.segs, s.heads = exactCopy(s.segs), exactCopy(s.heads)
	w.out = segSet{}
	return s
}

// withFilter gives s a filter over its keys. It is built once the set is
// complete, from the set itself, so that it is sized exactly and costs no
// list of hashes.
func (s *segSet) withFilter() {
	f := newKeyFilterSized(s.n)
	var c segsCursor
	c.reset(s.segs)
	for c.next() {
		f.add(keyHash(fnvOffset, c.c.key))
	}
	s.filter = f
}

// collector calls runtime.GC each time at least gcStep more bytes of
// scratch have been let go (see gcStep). Small builds never reach it.
type collector struct{ next int }

func (c *collector) released(total int) {
	if c.next == 0 {
		c.next = gcStep
	}
	if total >= c.next {
		runtime.GC()
		c.next = total + gcStep
	}
}
