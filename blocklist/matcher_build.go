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
// keyRuns) plus the Matcher being written, about twice the Matcher.
type matcherBuilder struct {
	m           *Matcher
	catIndex    map[string]int
	originIndex map[listOrigin]int
	keys        keyRuns
	origin      int // of the current source
	srcRuns     int // runs before the current source
	srcPatterns int // patterns before the current source
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
	for _, p := range ps {
		b.m.patterns = append(b.m.patterns, compiledPattern{
			re: p.Re, text: p.Text, lits: requiredLiterals(p.Re),
			origin: b.origin, allow: p.Allow, important: p.Important,
		})
	}
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
	m.buildSet(b.keys.runs)
	b.keys.runs = nil
	m.patterns = slices.Clip(m.patterns)
	m.pindex = newPatternIndex(m.patterns)
	return m
}

// buildSet merges the runs into the nameSet and the table of combinations,
// in two passes over the runs: the first numbers the combinations and
// measures the set, so that the second writes it into slices of the final
// size (growing them would leave their old copies as garbage, at the time
// memory is fullest).
func (m *Matcher) buildSet(runs []keyRun) {
	var combos comboTable
	var prev []byte
	n, size := 0, 0
	for mg := newRunMerger(runs); mg.next(); {
		combos.count(mg.facts)
		shared := 0
		if n%setBlockSize != 0 {
			shared = commonPrefix(mg.key, prev)
		}
		size += 2 + len(mg.key) - shared
		prev = append(prev[:0], mg.key...)
		n++
	}
	rank := combos.rank()
	for id, c := range combos.counts {
		size += c * uvarintLen(rank[id])
	}
	m.facts, m.comboEnd = combos.byRank(rank)

	var sb setBuilder
	sb.presize(n, size)
	for mg := newRunMerger(runs); mg.next(); {
		sb.add(mg.key, rank[combos.id(mg.facts)])
	}
	m.set = sb.finish()
}

// comboTable numbers the distinct combinations of facts that names have.
type comboTable struct {
	ids     map[string]uint32 // appendFacts encoding -> id
	facts   [][]nameFact      // by id
	counts  []int             // names per id
	last    []nameFact        // the combination asked for last, and its id:
	lastID  uint32            // neighbouring names mostly share theirs
	scratch []byte
}

// id returns the id of facts, numbering it if it is new.
func (t *comboTable) id(facts []nameFact) uint32 {
	if t.last != nil && slices.Equal(facts, t.last) {
		return t.lastID
	}
	t.scratch = appendFacts(t.scratch[:0], facts)
	id, ok := t.ids[string(t.scratch)]
	if !ok {
		if t.ids == nil {
			t.ids = make(map[string]uint32)
		}
		id = uint32(len(t.facts))
		t.ids[string(t.scratch)] = id
		t.facts = append(t.facts, slices.Clone(facts))
		t.counts = append(t.counts, 0)
	}
	t.last, t.lastID = t.facts[id], id
	return id
}

func (t *comboTable) count(facts []nameFact) { t.counts[t.id(facts)]++ }

// rank numbers the combinations by frequency: the payload is a uvarint, so
// the 128 most common take one byte. Ties keep the order of first use.
func (t *comboTable) rank() []uint32 {
	order := make([]uint32, len(t.facts))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortStableFunc(order, func(a, b uint32) int { return t.counts[b] - t.counts[a] })
	rank := make([]uint32, len(order))
	for r, id := range order {
		rank[id] = uint32(r)
	}
	return rank
}

// byRank returns every combination's facts back to back in rank order,
// and where each ends.
func (t *comboTable) byRank(rank []uint32) ([]nameFact, []uint32) {
	order := make([]uint32, len(rank))
	total := 0
	for id, r := range rank {
		order[r] = uint32(id)
		total += len(t.facts[id])
	}
	facts := make([]nameFact, 0, total)
	ends := make([]uint32, 0, len(order))
	for _, id := range order {
		facts = append(facts, t.facts[id]...)
		ends = append(ends, uint32(len(facts)))
	}
	return facts, ends
}
