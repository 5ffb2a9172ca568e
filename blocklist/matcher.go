package blocklist

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
)

// Input is one parsed list and where it belongs.
type Input struct {
	Category string
	Source   string // the source's name, for explanations
	List     *List
}

// Verdict is the outcome of Lookup.
type Verdict struct {
	Blocked  bool
	Category string // category of the deciding rule, "" if no rule matched
	Rule     Ref    // the deciding rule: the block rule when Blocked, the winning exception when an exception unblocked; zero when nothing matched
}

// Ref names a rule without its line (the Store finds the line on demand).
type Ref struct {
	Source  string // Input.Source
	Name    string // the matched entry (a suffix of the query name, no allocation) or the pattern text
	Kind    Kind
	Allow   bool
	Pattern bool
}

// Hit is one matching rule, for Explain.
type Hit struct {
	Category string
	Ref      Ref
}

// Matcher answers which rules match a name. It is immutable and safe for
// concurrent use.
//
// Names live once each in a front-coded nameSet. An entry's payload is the
// index of its combination: the set of (category/source, kind, flags) facts
// that hold for the name. A few dozen combinations cover hundreds of
// thousands of names, so the payload is one or two bytes; combinations are
// numbered by frequency so that the common ones take one.
type Matcher struct {
	set      nameSet
	facts    []nameFact // the facts of every combination, back to back
	comboEnd []uint32   // combination i is facts[comboEnd[i-1]:comboEnd[i]]
	cats     []string
	origins  []listOrigin
	patterns []compiledPattern
	pindex   patternIndex
}

// listOrigin is one (category, source) pair.
type listOrigin struct {
	cat    uint8
	source string
}

// nameFact is one rule for a name: origin index << 8 | flags.
type nameFact uint32

const (
	factKind      = 0x03 // Kind
	factAllow     = 0x04
	factImportant = 0x08
)

func newNameFact(origin int, r Rule) nameFact {
	f := nameFact(origin)<<8 | nameFact(r.Kind)
	if r.Allow {
		f |= factAllow
	}
	if r.Important {
		f |= factImportant
	}
	return f
}

func (f nameFact) origin() int     { return int(f >> 8) }
func (f nameFact) kind() Kind      { return Kind(f & factKind) }
func (f nameFact) allow() bool     { return f&factAllow != 0 }
func (f nameFact) important() bool { return f&factImportant != 0 }

// compiledPattern is a Pattern as the matcher keeps it.
type compiledPattern struct {
	re               *regexp.Regexp
	text             string
	lits             []string // every match contains one of them; nil if unknown
	origin           int
	allow, important bool
}

const (
	maxCategories = 64
	maxOrigins    = 1 << 24
)

// NewMatcher builds the immutable, compact lookup structure over every input
// (names merged and deduplicated across lists). At most 64 categories.
func NewMatcher(in []Input) (*Matcher, error) {
	m := &Matcher{}
	catIndex := make(map[string]int)
	originIndex := make(map[listOrigin]int)
	origins := make([]int, len(in))
	total, keyBytes := 0, 0
	for i, input := range in {
		if input.Category == "" {
			return nil, fmt.Errorf("input %d (source %q): empty category", i, input.Source)
		}
		c, ok := catIndex[input.Category]
		if !ok {
			if len(m.cats) == maxCategories {
				return nil, fmt.Errorf("category %q: more than %d categories", input.Category, maxCategories)
			}
			c = len(m.cats)
			catIndex[input.Category] = c
			m.cats = append(m.cats, input.Category)
		}
		o := listOrigin{cat: uint8(c), source: input.Source}
		oi, ok := originIndex[o]
		if !ok {
			if len(m.origins) == maxOrigins {
				return nil, errors.New("too many sources")
			}
			oi = len(m.origins)
			originIndex[o] = oi
			m.origins = append(m.origins, o)
		}
		origins[i] = oi
		if input.List == nil {
			continue
		}
		for _, r := range input.List.Rules {
			if reason := checkRule(r); reason != "" {
				return nil, fmt.Errorf("category %q source %q line %d: rule %q: %s",
					input.Category, input.Source, r.Line, r.Name, reason)
			}
			keyBytes += len(r.Name)
		}
		total += len(input.List.Rules)
		for _, p := range input.List.Patterns {
			if p.Re == nil {
				return nil, fmt.Errorf("category %q source %q line %d: pattern %q: no regexp",
					input.Category, input.Source, p.Line, p.Text)
			}
			m.patterns = append(m.patterns, compiledPattern{
				re: p.Re, text: p.Text, lits: requiredLiterals(p.Re),
				origin: oi, allow: p.Allow, important: p.Important,
			})
		}
	}
	m.buildSet(in, origins, total, keyBytes)
	m.patterns = slices.Clip(m.patterns)
	m.pindex = newPatternIndex(m.patterns)
	return m, nil
}

// checkRule reports why a Rule made outside Parse cannot be stored.
func checkRule(r Rule) string {
	if r.Kind > Below {
		return "unknown kind"
	}
	if reason := checkName(r.Name, r.Kind == Below); reason != "" {
		return reason
	}
	for i := 0; i < len(r.Name); i++ {
		if c := r.Name[i]; 'A' <= c && c <= 'Z' {
			return "not lower case"
		}
	}
	return ""
}

// buildRec is one rule while the set is built: its key in the arena, the
// key's first 8 bytes (which decide most comparisons of the sort) and its
// fact.
type buildRec struct {
	p8   uint64
	off  uint32
	fact nameFact
	n    uint8
}

func (m *Matcher) buildSet(in []Input, origins []int, total, keyBytes int) {
	arena := make([]byte, 0, keyBytes)
	recs := make([]buildRec, 0, total)
	for i, input := range in {
		if input.List == nil {
			continue
		}
		for _, r := range input.List.Rules {
			off := len(arena)
			arena = appendKey(arena, r.Name)
			recs = append(recs, buildRec{p8: prefix8(arena[off:]), off: uint32(off),
				n: uint8(len(arena) - off), fact: newNameFact(origins[i], r)})
		}
	}
	key := func(r buildRec) []byte { return arena[r.off : r.off+uint32(r.n)] }
	slices.SortFunc(recs, func(a, b buildRec) int {
		if a.p8 != b.p8 {
			return cmp.Compare(a.p8, b.p8)
		}
		if c := bytes.Compare(key(a), key(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.fact, b.fact)
	})

	// Group the facts of each name into a combination.
	type group struct {
		first uint32 // index in recs of the group's first record
		combo uint32
	}
	var (
		groups   []group
		comboIDs = make(map[string]uint32)
		combos   [][]nameFact
		counts   []int
		facts    []nameFact
		scratch  []byte
	)
	for i := 0; i < len(recs); {
		j := i
		facts = facts[:0]
		for ; j < len(recs) && bytes.Equal(key(recs[j]), key(recs[i])); j++ {
			if len(facts) == 0 || facts[len(facts)-1] != recs[j].fact {
				facts = append(facts, recs[j].fact)
			}
		}
		scratch = appendFacts(scratch[:0], facts)
		id, ok := comboIDs[string(scratch)]
		if !ok {
			id = uint32(len(combos))
			comboIDs[string(scratch)] = id
			combos = append(combos, slices.Clone(facts))
			counts = append(counts, 0)
		}
		counts[id]++
		groups = append(groups, group{uint32(i), id})
		i = j
	}

	// Number combinations by frequency: the payload is a uvarint, so the
	// 128 most common take one byte.
	order := make([]uint32, len(combos))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortStableFunc(order, func(a, b uint32) int { return counts[b] - counts[a] })
	rank := make([]uint32, len(combos))
	for r, id := range order {
		rank[id] = uint32(r)
		m.facts = append(m.facts, combos[id]...)
		m.comboEnd = append(m.comboEnd, uint32(len(m.facts)))
	}
	m.facts = slices.Clip(m.facts)
	m.comboEnd = slices.Clip(m.comboEnd)

	var b setBuilder
	for _, g := range groups {
		b.add(key(recs[g.first]), rank[g.combo])
	}
	m.set = b.finish()
}

// appendFacts encodes facts as a map key.
func appendFacts(b []byte, facts []nameFact) []byte {
	for _, f := range facts {
		b = append(b, byte(f>>24), byte(f>>16), byte(f>>8), byte(f))
	}
	return b
}

// Categories returns the categories in order of first appearance.
func (m *Matcher) Categories() []string { return slices.Clone(m.cats) }

// Mask returns the bit set of the named categories: bit i is Categories()[i].
// Unknown names are ignored.
func (m *Matcher) Mask(categories ...string) uint64 {
	var mask uint64
	for _, c := range categories {
		if i := slices.Index(m.cats, c); i >= 0 {
			mask |= 1 << i
		}
	}
	return mask
}

// Len returns the number of distinct names stored.
func (m *Matcher) Len() int {
	if m == nil {
		return 0
	}
	return m.set.Len()
}

// combo returns the facts of combination id.
func (m *Matcher) combo(id uint32) []nameFact {
	start := uint32(0)
	if id > 0 {
		start = m.comboEnd[id-1]
	}
	return m.facts[start:m.comboEnd[id]]
}
