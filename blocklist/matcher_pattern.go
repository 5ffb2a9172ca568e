package blocklist

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
)

// requiredLiterals returns strings such that every match of re contains at
// least one of them, or nil if it finds none. Adblock globs such as
// ||aax-*.amazon.*^ and most list regexes are a concatenation with a literal
// in it; an alternation needs a literal in each branch.
func requiredLiterals(re *regexp.Regexp) []string {
	tree, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return nil
	}
	return literalsOf(tree.Simplify())
}

func literalsOf(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return nil
		}
		return []string{string(re.Rune)}
	case syntax.OpCapture, syntax.OpPlus:
		// x+ contains x at least once.
		return literalsOf(re.Sub[0])
	case syntax.OpConcat:
		// Any part's set will do; keep the one whose shortest literal is
		// longest, as it is the most selective, then the smallest.
		var best []string
		for _, sub := range re.Sub {
			lits := literalsOf(sub)
			if n, b := shortest(lits), shortest(best); n > b || n == b && n > 0 && len(lits) < len(best) {
				best = lits
			}
		}
		return best
	case syntax.OpAlternate:
		var all []string
		for _, sub := range re.Sub {
			lits := literalsOf(sub)
			if lits == nil {
				return nil
			}
			all = append(all, lits...)
		}
		slices.Sort(all)
		return slices.Compact(all)
	}
	return nil
}

func shortest(lits []string) int {
	if len(lits) == 0 {
		return 0
	}
	n := len(lits[0])
	for _, l := range lits[1:] {
		n = min(n, len(l))
	}
	return n
}

// patternIndex finds, in one pass over a name, the patterns one of whose
// required literals occurs in it: each literal is filed under its first
// two bytes, and every two-byte window of the name is looked up. A name
// thus costs a few table reads however many patterns there are. Patterns
// without literals of two bytes or more are tried on every name.
type patternIndex struct {
	start   []uint32 // bucket b is entries[start[b]:start[b+1]]
	entries []indexEntry
	always  []uint32 // pattern indices
}

type indexEntry struct {
	pattern uint32
	lit     string
}

const bigramBits = 10

func bigram(a, b byte) uint32 {
	return (uint32(a)<<8 | uint32(b)) * 2654435761 >> (32 - bigramBits)
}

func newPatternIndex(patterns []compiledPattern) patternIndex {
	var x patternIndex
	var entries []indexEntry
	for i, p := range patterns {
		if shortest(p.lits) < 2 {
			x.always = append(x.always, uint32(i))
			continue
		}
		for _, lit := range p.lits {
			entries = append(entries, indexEntry{uint32(i), lit})
		}
	}
	if len(entries) == 0 {
		return x
	}
	x.start = make([]uint32, 1<<bigramBits+1)
	for _, e := range entries {
		x.start[bigram(e.lit[0], e.lit[1])+1]++
	}
	for b := 1; b < len(x.start); b++ {
		x.start[b] += x.start[b-1]
	}
	next := slices.Clone(x.start)
	x.entries = make([]indexEntry, len(entries))
	for _, e := range entries {
		b := bigram(e.lit[0], e.lit[1])
		x.entries[next[b]] = e
		next[b]++
	}
	return x
}

// matchPatterns fills the empty candidates of d from the exceptions
// (allow) or block rules among the patterns, only important ones if
// importantOnly. It reports whether any pattern matched. Among patterns
// the first in list order wins, as the index visits them out of order.
func (m *Matcher) matchPatterns(d *verdictState, name string, active uint64, allow, importantOnly bool) bool {
	found := false
	x := &m.pindex
	for _, i := range x.always {
		if lits := m.patterns[i].lits; lits == nil || containsAny(name, lits) {
			found = m.tryPattern(d, i, name, active, allow, importantOnly) || found
		}
	}
	if len(x.entries) == 0 {
		return found
	}
	for j := 0; j+2 <= len(name); j++ {
		b := bigram(name[j], name[j+1])
		for _, e := range x.entries[x.start[b]:x.start[b+1]] {
			// Try each pattern at the first occurrence of its literal only.
			if strings.HasPrefix(name[j:], e.lit) && strings.Index(name, e.lit) == j {
				found = m.tryPattern(d, e.pattern, name, active, allow, importantOnly) || found
			}
		}
	}
	return found
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// tryPattern runs pattern i if it is of the sort wanted and could improve
// its candidate, and records it if it matches.
func (m *Matcher) tryPattern(d *verdictState, i uint32, name string, active uint64, allow, importantOnly bool) bool {
	p := &m.patterns[i]
	if p.allow != allow || importantOnly && !p.important {
		return false
	}
	o := &m.origins[p.origin]
	var c *verdictCandidate
	switch {
	case p.allow && p.important:
		c = &d.importantAllow
	case p.allow:
		c = &d.allow
	case active&(1<<o.cat) == 0:
		return false
	case p.important:
		c = &d.important
	default:
		c = &d.block
	}
	if c.ok && (c.level > 0 || c.pat <= i) || !p.re.MatchString(name) {
		return false
	}
	*c = verdictCandidate{ok: true, pat: i, cat: int(o.cat),
		ref: Ref{Source: o.source, Name: p.text, Allow: p.allow, Pattern: true}}
	return true
}
