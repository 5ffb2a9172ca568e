package blocklist

import (
	"slices"
	"strings"
)

// verdictCandidate is the most specific rule of one sort seen so far.
type verdictCandidate struct {
	ok    bool
	level int    // labels in the matched entry; 0 for a pattern
	pat   uint32 // index of the pattern, if level is 0
	cat   int
	ref   Ref
}

// verdictState collects the candidates of one lookup. Exceptions are kept
// whatever their category; blocks only for active categories.
type verdictState struct {
	block, important, allow, importantAllow verdictCandidate
}

// Lookup decides name (lower case; a trailing dot is ignored) for the
// categories in active. It does not allocate.
func (m *Matcher) Lookup(name string, active uint64) Verdict {
	if m == nil {
		return Verdict{}
	}
	name = strings.TrimSuffix(name, ".")
	var d verdictState
	m.walk(name, func(level int, suffix string, f nameFact) {
		d.add(m, f, level, suffix, active)
	})
	if len(m.patterns) > 0 {
		m.lookupPatterns(&d, name, active)
	}
	return d.verdict(m)
}

// walk calls f for every fact of every ancestor of name (the name included)
// whose kind covers name, from the top-level domain down. The key of each
// ancestor is built in a stack buffer as a prefix of the next one.
func (m *Matcher) walk(name string, f func(level int, suffix string, f nameFact)) {
	var buf [maxKeyLen]byte
	kl, end, h := 0, len(name), uint64(fnvOffset)
	for level := 1; ; level++ {
		start := strings.LastIndexByte(name[:end], '.') + 1
		need := end - start
		if kl > 0 {
			need++
		}
		if kl+need > len(buf) {
			return // longer than any stored name
		}
		if kl > 0 {
			buf[kl] = keySep
			h = hashByte(h, keySep)
			kl++
		}
		n := copy(buf[kl:], name[start:end])
		h = keyHash(h, buf[kl:kl+n])
		kl += n
		if id, ok := m.find(buf[:kl], h); ok {
			for _, fc := range m.combo(id) {
				switch fc.kind() {
				case Exact:
					if start > 0 {
						continue
					}
				case Below:
					if start == 0 {
						continue
					}
				}
				f(level, name[start:], fc)
			}
		}
		if start == 0 {
			return
		}
		end = start - 1
	}
}

func (d *verdictState) add(m *Matcher, f nameFact, level int, suffix string, active uint64) {
	o := &m.origins[f.origin()]
	var c *verdictCandidate
	switch {
	case f.allow() && f.important():
		c = &d.importantAllow
	case f.allow():
		c = &d.allow
	case active&(1<<o.cat) == 0:
		return
	case f.important():
		c = &d.important
	default:
		c = &d.block
	}
	// Levels only grow during a walk; at equal level the first fact wins,
	// which is the first category in Categories order.
	if c.ok && c.level >= level {
		return
	}
	*c = verdictCandidate{ok: true, level: level, cat: int(o.cat),
		ref: Ref{Source: o.source, Name: suffix, Kind: f.kind(), Allow: f.allow()}}
}

// lookupPatterns looks at the patterns that could still change the
// verdict the name rules gave. Patterns count as the least specific rules,
// so most verdicts are settled before any regexp runs.
func (m *Matcher) lookupPatterns(d *verdictState, name string, active uint64) {
	switch {
	case d.importantAllow.ok:
		// Nothing overrides an important exception.
	case d.important.ok || d.block.ok && !d.unblocked():
		m.matchPatterns(d, name, active, true, true)
	case d.block.ok:
		// Unblocked by a name exception: only an important block
		// pattern (then only an important exception) can change that.
		if m.matchPatterns(d, name, active, false, true) {
			m.matchPatterns(d, name, active, true, true)
		}
	default:
		if !m.matchPatterns(d, name, active, false, false) {
			return
		}
		switch {
		case d.important.ok:
			m.matchPatterns(d, name, active, true, true)
		case !d.allow.ok:
			m.matchPatterns(d, name, active, true, false)
		}
	}
}

// unblocked reports whether a non-important block is lifted by an
// exception at least as specific.
func (d *verdictState) unblocked() bool {
	return d.importantAllow.ok || d.allow.ok && d.allow.level >= d.block.level
}

func (d *verdictState) verdict(m *Matcher) Verdict {
	var b *verdictCandidate
	switch {
	case d.important.ok:
		b = &d.important
	case d.block.ok:
		b = &d.block
	default:
		return Verdict{}
	}
	switch {
	case d.importantAllow.ok:
		return Verdict{Category: m.cats[d.importantAllow.cat], Rule: d.importantAllow.ref}
	case !d.important.ok && d.unblocked():
		return Verdict{Category: m.cats[d.allow.cat], Rule: d.allow.ref}
	}
	return Verdict{Blocked: true, Category: m.cats[b.cat], Rule: b.ref}
}

// Explain lists every rule in every category that matches name, most
// specific first (allocates; for `haven check`).
func (m *Matcher) Explain(name string) []Hit {
	if m == nil {
		return nil
	}
	name = strings.TrimSuffix(name, ".")
	type leveled struct {
		level int
		hit   Hit
	}
	var hits []leveled
	m.walk(name, func(level int, suffix string, f nameFact) {
		o := m.origins[f.origin()]
		hits = append(hits, leveled{level, Hit{Category: m.cats[o.cat],
			Ref: Ref{Source: o.source, Name: suffix, Kind: f.kind(), Allow: f.allow()}}})
	})
	slices.SortStableFunc(hits, func(a, b leveled) int { return b.level - a.level })
	out := make([]Hit, 0, len(hits))
	for _, h := range hits {
		out = append(out, h.hit)
	}
	for _, p := range m.patterns {
		if p.re.MatchString(name) {
			o := m.origins[p.origin]
			out = append(out, Hit{Category: m.cats[o.cat],
				Ref: Ref{Source: o.source, Name: p.text, Allow: p.allow, Pattern: true}})
		}
	}
	return out
}
