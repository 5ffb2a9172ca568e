package blocklist

import (
	"errors"
	"fmt"
	"slices"
)

// matcherBuilder builds a Matcher from sources fed one after the other,
// rule by rule, so that no list of rules ever has to exist: NewMatcher feeds
// it the rules of parsed Lists, the Store feeds it straight from the parser
// (it is a ruleSink). Peak memory is then the sorted runs of keys (see
// keyRuns), whose pages the Matcher's segments take over as they are
// written: about one Matcher, plus a chunk of raw keys.
type matcherBuilder struct {
	m           *Matcher
	catIndex    map[string]int
	originIndex map[listOrigin]int
	keys        keyRuns
	origin      int // of the current source
	srcRuns     int // runs before the current source
	srcPatterns int // patterns before the current source
	segBytes    int // segmentBytes, smaller in tests
}

func newMatcherBuilder() *matcherBuilder {
	return &matcherBuilder{
		m:           &Matcher{},
		catIndex:    make(map[string]int),
		originIndex: make(map[listOrigin]int),
	}
}

// source starts the rules of the next source. A category is added even if
// the source then adds nothing, so that category masks do not depend on
// which lists could be read.
func (b *matcherBuilder) source(category, name string) error {
	m := b.m
	c, ok := b.catIndex[category]
	if !ok {
		if len(m.cats) == maxCategories {
			return fmt.Errorf("category %q: more than %d categories", category, maxCategories)
		}
		c = len(m.cats)
		b.catIndex[category] = c
		m.cats = append(m.cats, category)
	}
	o := listOrigin{cat: uint8(c), source: name}
	oi, ok := b.originIndex[o]
	if !ok {
		if len(m.origins) == maxOrigins {
			return errors.New("too many sources")
		}
		oi = len(m.origins)
		b.originIndex[o] = oi
		m.origins = append(m.origins, o)
	}
	b.keys.flush() // a chunk holds one origin
	b.keys.origin = nameFact(oi) << 8
	b.origin = oi
	b.srcRuns, b.srcPatterns = len(b.keys.runs), len(m.patterns)
	return nil
}

// addRule adds a rule of the current source (the ruleSink method). name
// is a valid, normalised name, as the parser gives it.
func (b *matcherBuilder) addRule(name []byte, kind Kind, allow, important bool, _ int) {
	addKey(&b.keys, name, ruleFlags(kind, allow, important))
}

// addPatterns adds patterns of the current source.
func (b *matcherBuilder) addPatterns(ps []Pattern) {
	b.m.patterns = compilePatterns(b.m.patterns, ps, b.origin)
}

// compilePatterns appends the patterns of origin to dst.
func compilePatterns(dst []compiledPattern, ps []Pattern, origin int) []compiledPattern {
	for _, p := range ps {
		dst = append(dst, compiledPattern{
			re: p.Re, text: p.Text, lits: requiredLiterals(p.Re),
			origin: origin, allow: p.Allow, important: p.Important,
		})
	}
	return dst
}

// abort drops every rule and pattern of the current source, which then
// adds only its category (a copy that cannot be read), or starts over.
func (b *matcherBuilder) abort() {
	b.keys.truncate(b.srcRuns)
	clear(b.m.patterns[b.srcPatterns:])
	b.m.patterns = b.m.patterns[:b.srcPatterns]
}

// finish builds the Matcher. The builder is spent.
func (b *matcherBuilder) finish() *Matcher {
	m := b.m
	b.keys.done()
	m.writeSegments(b.keys.runs, b.segmentBytes())
	b.keys.runs = nil
	m.patterns = slices.Clip(m.patterns)
	m.pindex = newPatternIndex(m.patterns)
	return m
}

func (b *matcherBuilder) segmentBytes() int {
	if b.segBytes > 0 {
		return b.segBytes
	}
	return segmentBytes
}

// writeSegments merges the runs into the segments, in one pass. The
// segments take the pages of the runs as the merge lets them go (see
// pagePool), so that a build never holds much more than the runs or the
// set at a time, not the two of them. The filter is filled as the names
// come, sized for the entries of the runs: more than the names by the
// duplicates across runs, which are few unless sources repeat each other,
// and then it is built again at its size.
func (m *Matcher) writeSegments(runs []keyRun, limit int) {
	var combos comboTable
	bound := 0
	for i := range runs {
		bound += runs[i].n
	}
	filter := newKeyFilterSized(bound)
	mg := newRunMerger(runs)
	w := segmentWriter{limit: limit, pages: &mg.free}
	for mg.next() {
		w.add(mg.key, combos.id(mg.facts))
		filter.add(keyHash(fnvOffset, mg.key))
	}
	m.names = w.take()
	m.names.filter = filter
	if m.names.n < bound*3/4 {
		m.names.withFilter()
	}
	m.n = m.names.n
	m.facts, m.comboEnd = combos.facts, combos.ends
}

// comboTable numbers the distinct combinations of facts that names have,
// in order of first use. The empty combination, which only a refresh's
// overlay uses (a name that is gone), is numbered like any other.
type comboTable struct {
	ids     map[string]uint32 // appendFacts encoding -> id
	facts   []nameFact        // of every combination, back to back
	ends    []uint32          // combination i is facts[ends[i-1]:ends[i]]
	last    []nameFact        // the combination asked for last, and its id:
	lastID  uint32            // neighbouring names mostly share theirs
	hasLast bool
	scratch []byte
}

// seed numbers the combinations of an existing table first, with their ids.
func (t *comboTable) seed(facts []nameFact, ends []uint32) {
	t.facts = slices.Clone(facts)
	t.ends = slices.Clone(ends)
	t.ids = make(map[string]uint32, len(ends))
	start := uint32(0)
	for id, end := range ends {
		t.ids[string(appendFacts(nil, facts[start:end]))] = uint32(id)
		start = end
	}
}

// id returns the id of facts, numbering it if it is new.
func (t *comboTable) id(facts []nameFact) uint32 {
	if t.hasLast && slices.Equal(facts, t.last) {
		return t.lastID
	}
	t.scratch = appendFacts(t.scratch[:0], facts)
	id, ok := t.ids[string(t.scratch)]
	if !ok {
		if t.ids == nil {
			t.ids = make(map[string]uint32)
		}
		id = uint32(len(t.ends))
		t.ids[string(t.scratch)] = id
		t.facts = append(t.facts, facts...)
		t.ends = append(t.ends, uint32(len(t.facts)))
	}
	t.last, t.lastID, t.hasLast = append(t.last[:0], facts...), id, true
	return id
}
