package blocklist

import (
	"bytes"
	"runtime"
	"slices"
)

// publishEvery is how many segments' worth of bytes compact writes
// between two Matchers it publishes.
const publishEvery = 4

// deltaBuilder makes the Matcher that follows an old one when the rules of
// some origins changed (a refresh that downloaded a new copy), without
// building a second copy of the whole set. Only the sources of changed
// origins are parsed. A parsed name that the old Matcher holds costs one
// bit: its position is marked in a bitmap of the source and flags. A name
// it lacks is kept in sorted runs, as a full build keeps every name. Then
// one pass over the old names finds those whose facts changed and writes
// them, with the new names, into an overlay (Matcher.over): the new
// Matcher shares the old one's segments and reads the overlay first. The
// overlay is then folded into the segments one at a time (compact).
//
// Memory beyond the old Matcher is thus a bit per old name per bitmap, the
// names that are new, and the overlay: a refresh that changes a few
// thousand names of a big list costs well under a megabyte.
type deltaBuilder struct {
	old      *Matcher // without an overlay
	changed  []bool   // by origin of the new table; origins past its end are gone
	segStart []int    // position of each old segment's first name among all
	marks    []mark
	adds     keyRuns

	origin   int
	srcMarks int     // marks before the current source
	srcRuns  int     // runs of adds before the current source
	flagMark [16]int // index in marks of the current source's mark per flags, -1 if none
	key      []byte  // scratch
}

// mark is the bitmap of the old names that one source gave one fact.
type mark struct {
	fact nameFact
	bits []uint64
}

func (k *mark) has(i int) bool { return k.bits[i>>6]&(1<<(i&63)) != 0 }

func newDeltaBuilder(old *Matcher, changed []bool) *deltaBuilder {
	d := &deltaBuilder{old: old, changed: changed, key: make([]byte, 0, maxKeyLen)}
	d.segStart = make([]int, len(old.names.segs))
	n := 0
	for i := range old.names.segs {
		d.segStart[i] = n
		n += old.names.segs[i].n
	}
	return d
}

// isChanged reports whether the facts of origin o come from this build's
// parse rather than from the old Matcher.
func (d *deltaBuilder) isChanged(o int) bool { return o >= len(d.changed) || d.changed[o] }

// source starts the rules of the next parsed source, of origin o.
func (d *deltaBuilder) source(o int) {
	d.adds.flush()
	d.adds.origin = nameFact(o) << 8
	d.origin = o
	d.srcMarks, d.srcRuns = len(d.marks), len(d.adds.runs)
	for i := range d.flagMark {
		d.flagMark[i] = -1
	}
}

// abort drops what the current source added so far.
func (d *deltaBuilder) abort() {
	clear(d.marks[d.srcMarks:])
	d.marks = d.marks[:d.srcMarks]
	d.adds.truncate(d.srcRuns)
	for i := range d.flagMark {
		d.flagMark[i] = -1
	}
}

// addRule is the ruleSink method: a rule of the current source.
func (d *deltaBuilder) addRule(name []byte, kind Kind, allow, important bool, _ int) {
	flags := ruleFlags(kind, allow, important)
	d.key = appendKey(d.key[:0], name)
	if i, ok := d.oldPosition(d.key); ok {
		k := d.flagMark[flags]
		if k < 0 {
			k = len(d.marks)
			d.flagMark[flags] = k
			d.marks = append(d.marks, mark{
				fact: nameFact(d.origin)<<8 | nameFact(flags),
				bits: make([]uint64, (d.old.n+63)/64),
			})
		}
		d.marks[k].bits[i>>6] |= 1 << (i & 63)
		return
	}
	addKey(&d.adds, name, flags)
}

func (d *deltaBuilder) restart() { d.abort() }

// oldPosition returns the position of key among all the old names.
func (d *deltaBuilder) oldPosition(key []byte) (int, bool) {
	m := d.old
	if len(m.names.segs) == 0 || !m.names.filter.mayContain(keyHash(fnvOffset, key)) {
		return 0, false
	}
	j := m.names.segment(key)
	i, _, ok := m.names.segs[j].locate(key)
	return d.segStart[j] + i, ok
}

// finish returns the new Matcher: the old segments, read through an
// overlay of every name whose facts changed, with the given tables. The
// patterns and tables are the caller's; the builder is spent.
func (d *deltaBuilder) finish(cats []string, origins []listOrigin, patterns []compiledPattern) *Matcher {
	old := d.old
	d.adds.done()
	if len(d.marks) == 0 && len(d.adds.runs) == 0 && !slices.Contains(d.changed, true) && len(d.changed) == len(old.origins) {
		// Only names, categories or the order of patterns changed: the
		// names keep every fact.
		m := *old
		m.cats, m.origins, m.patterns = cats, origins, patterns
		m.pindex = newPatternIndex(m.patterns)
		return &m
	}
	var combos comboTable
	combos.seed(old.facts, old.comboEnd)
	ob := segmentWriter{limit: segmentBytes}
	n := 0
	var facts []nameFact
	mg := newRunMerger(d.adds.runs)
	okA := mg.next()
	var sc segsCursor
	sc.reset(old.names.segs)
	okS := sc.next()
	for i := 0; okS || okA; {
		// A new name is never an old one, so the keys never tie.
		if !okS || okA && bytes.Compare(mg.key, sc.c.key) < 0 {
			ob.add(mg.key, combos.id(mg.facts))
			n++
			okA = mg.next()
			continue
		}
		was := old.combo(sc.c.payload)
		facts = facts[:0]
		for _, f := range was {
			if !d.isChanged(f.origin()) {
				facts = append(facts, f)
			}
		}
		for k := range d.marks {
			if d.marks[k].has(i) {
				facts = append(facts, d.marks[k].fact)
			}
		}
		if len(facts) > 1 {
			slices.Sort(facts)
			facts = slices.Compact(facts)
		}
		if !slices.Equal(facts, was) {
			ob.add(sc.c.key, combos.id(facts))
		}
		if len(facts) > 0 {
			n++
		}
		i++
		okS = sc.next()
	}
	d.marks, d.adds.runs = nil, nil
	m := &Matcher{
		names: old.names, n: n,
		facts: combos.facts, comboEnd: combos.ends,
		cats: cats, origins: origins, patterns: patterns,
	}
	// The old filter stays valid for the old names; the overlay, which is
	// read first, has its own for the names it adds or changes.
	if over := ob.take(); over.n > 0 {
		over.withFilter()
		m.over = &over
	}
	m.pindex = newPatternIndex(m.patterns)
	return m
}

// compact folds m's overlay into its segments and returns the Matcher
// without one. Segments the overlay does not touch are kept; the others
// are merged with their part of the overlay and written again, a run of
// touched segments as one stream, so that the new segments are as full as
// those of a full build. publish gets the Matcher as it goes, every
// publishEvery segments written, and compact keeps no reference to an old
// segment it has read, so that the old segments are let go (and
// collected) before the next are written: the memory a compaction adds is
// a few segments, not a second set. Every Matcher published answers
// exactly as m: the overlay stays until the end, and where it covers a new
// segment the two agree.
func compact(m *Matcher, limit int, publish func(*Matcher)) *Matcher {
	if m.over == nil {
		return m
	}
	over := m.over
	old := slices.Clone(m.names.segs) // each is dropped once read
	base := *m
	base.names, base.over = segSet{filter: m.names.filter}, nil
	m = nil

	if len(old) > publishEvery {
		// The scratch of the parse and of the overlay is garbage now:
		// let the segments written next take its place.
		runtime.GC()
	}
	var oc segsCursor
	oc.reset(over.segs)
	okO := oc.next()
	var done segSet // segments of the result so far
	w := segmentWriter{limit: limit}
	var gc collector
	released, pending := 0, 0
	snapshot := func(rest []nameSet, over *segSet) *Matcher {
		c := base // with the old filter, right for every name but those of over
		c.names.segs = append(exactCopy(done.segs), rest...)
		c.names.heads = make([]uint64, len(c.names.segs))
		for i := range c.names.segs {
			c.names.heads[i] = c.names.segs[i].heads[0]
		}
		c.names.n = done.n
		for i := range rest {
			c.names.n += rest[i].n
		}
		c.over = over
		return &c
	}
	flush := func() {
		s := w.take()
		done.segs = append(done.segs, s.segs...)
		done.n += s.n
	}
	// Without segments, the overlay is all there is: an empty segment
	// takes it.
	slots := max(len(old), 1)
	for j := range slots {
		var next []byte // the first key of the next segment: the end of this one's range
		if j+1 < len(old) {
			next = old[j+1].first()
		}
		inRange := func() bool { return okO && (next == nil || bytes.Compare(oc.c.key, next) < 0) }
		if !inRange() {
			flush()
			if j < len(old) {
				done.segs = append(done.segs, old[j])
				done.n += old[j].n
			}
			continue
		}
		before := w.written()
		var c setCursor
		okC := false
		if j < len(old) {
			c.reset(&old[j])
			okC = c.next()
		}
		for okC || inRange() {
			if okC && (!inRange() || bytes.Compare(c.key, oc.c.key) < 0) {
				w.add(c.key, c.payload)
				okC = c.next()
				continue
			}
			if okC && bytes.Equal(c.key, oc.c.key) {
				okC = c.next()
			}
			if len(base.combo(oc.c.payload)) > 0 {
				w.add(oc.c.key, oc.c.payload)
			}
			okO = oc.next()
		}
		if j < len(old) {
			released += len(old[j].data)
			old[j] = nameSet{}
		}
		// Publishing cuts the segment being written: wait until it is
		// nearly full, within bounds, so as not to leave many small ones.
		pending += w.written() - before
		full := len(w.b.set.data) >= limit*3/4 || pending >= 2*publishEvery*limit
		if pending >= publishEvery*limit && full && j+1 < slots {
			flush()
			publish(snapshot(old[j+1:], over))
			pending = 0
			gc.released(released)
		}
	}
	flush()
	// Names the overlay added are not in the old filter: the result needs
	// a new one. It is built from the new segments, the old ones gone.
	final := snapshot(nil, over)
	final.names.withFilter()
	final.over = nil
	publish(final)
	return final
}
