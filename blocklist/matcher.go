package blocklist

import (
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
// Names live once each in front-coded nameSets, one per segment of the key
// order, with one Bloom filter over all of them (see segSet).
// An entry's payload is the index of its combination: the set of
// (category/source, kind, flags) facts that hold for the name. A few dozen
// combinations cover hundreds of thousands of names, and a name with the
// combination of the name before it pays nothing for it.
type Matcher struct {
	names segSet // every name, when over is nil
	// over, during a Store refresh only, holds the names whose facts
	// changed since names was written; it is read first, and a name with
	// the empty combination there is gone (see matcher_delta.go).
	over     *segSet
	n        int        // distinct names
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
	return nameFact(origin)<<8 | nameFact(ruleFlags(r.Kind, r.Allow, r.Important))
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
	b := newMatcherBuilder()
	for i, input := range in {
		if input.Category == "" {
			return nil, fmt.Errorf("input %d (source %q): empty category", i, input.Source)
		}
		if err := b.source(input.Category, input.Source); err != nil {
			return nil, err
		}
		if input.List == nil {
			continue
		}
		for _, r := range input.List.Rules {
			if reason := checkRule(r); reason != "" {
				return nil, fmt.Errorf("category %q source %q line %d: rule %q: %s",
					input.Category, input.Source, r.Line, r.Name, reason)
			}
			addKey(&b.keys, r.Name, ruleFlags(r.Kind, r.Allow, r.Important))
		}
		for _, p := range input.List.Patterns {
			if p.Re == nil {
				return nil, fmt.Errorf("category %q source %q line %d: pattern %q: no regexp",
					input.Category, input.Source, p.Line, p.Text)
			}
		}
		b.addPatterns(input.List.Patterns)
	}
	return b.finish(), nil
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
	return m.n
}

// combo returns the facts of combination id.
func (m *Matcher) combo(id uint32) []nameFact {
	start := uint32(0)
	if id > 0 {
		start = m.comboEnd[id-1]
	}
	return m.facts[start:m.comboEnd[id]]
}
