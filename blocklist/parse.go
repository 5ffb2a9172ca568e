package blocklist

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
)

// Kind says which names an entry covers.
type Kind uint8

// Kinds of entries.
const (
	Subtree Kind = iota // the name and every name below it (plain names, hosts entries, ||x^)
	Exact               // the name only (a list configured as exact)
	Below               // names below it but not the name itself (*.x)
)

func (k Kind) String() string {
	switch k {
	case Subtree:
		return "subtree"
	case Exact:
		return "exact"
	case Below:
		return "below"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Rule is one name entry of a list.
type Rule struct {
	Name      string // normalised: lower case, punycode (IDNA ToASCII), no trailing dot
	Kind      Kind
	Allow     bool // an exception (@@||x^)
	Important bool // $important: beats exceptions
	Line      int  // 1-based line in its source
}

// Pattern is a rule that is not a plain name: a /regex/ line (also Pi-hole
// regex list lines) or an adblock pattern with * wildcards (compiled to an
// anchored regexp).
type Pattern struct {
	Text      string         // as written in the list, for explanations
	Re        *regexp.Regexp // matched against the name without trailing dot
	Allow     bool
	Important bool
	Line      int
}

// Stats counts what a parse kept and skipped.
type Stats struct {
	Lines    int            // lines read
	Kept     int            // rules + patterns kept
	Comments int            // comment and blank lines
	Skipped  map[string]int // reason -> count, e.g. "ip address", "url pattern"
}

// List is a parsed source.
type List struct {
	Rules    []Rule
	Patterns []Pattern
	Stats    Stats
}

// ParseOptions tune parsing.
type ParseOptions struct {
	Exact bool // plain names and hosts entries match the name only (Kind Exact instead of Subtree)
	Regex bool // every non-comment line is a regular expression (Pi-hole regex lists); otherwise /re/ lines are regexes
}

// maxLineLen is the longest line Parse accepts. The longest line in the real
// lists studied is 720 bytes; a longer one means the input is not a list.
const maxLineLen = 64 << 10

// Parse reads a list in any of the supported formats, detected per line. It
// fails only on a read error or a line over 64 KiB; bad lines are skipped
// and counted in Stats.Skipped.
func Parse(r io.Reader, opt ParseOptions) (*List, error) {
	var sink listSink
	res, err := parseInto(r, opt, nil, &sink)
	if err != nil {
		return nil, err
	}
	l := &List{Rules: sink.rules, Patterns: res.patterns, Stats: res.stats}
	if len(res.bad) > 0 {
		kept := l.Rules[:0]
		for _, r := range l.Rules {
			if res.bad.has(r.Name, ruleFlags(r.Kind, r.Allow, r.Important)) {
				l.Stats.Skipped[reasonBadfiltered]++
				continue
			}
			kept = append(kept, r)
		}
		clear(l.Rules[len(kept):])
		l.Rules = kept
	}
	l.Stats.Kept = len(l.Rules) + len(l.Patterns)
	return l, nil
}

// ruleSink receives the name rules of a parse as they are read. name is
// only valid during the call: it may point into the reader's buffer.
type ruleSink interface {
	addRule(name []byte, kind Kind, allow, important bool, line int)
}

// listSink keeps the rules as a List holds them.
type listSink struct{ rules []Rule }

func (s *listSink) addRule(name []byte, kind Kind, allow, important bool, line int) {
	s.rules = append(s.rules, Rule{Name: string(name), Kind: kind, Allow: allow, Important: important, Line: line})
}

// parseResult is what a parse keeps besides the rules it gave its sink.
type parseResult struct {
	patterns []Pattern // $badfilter already applied
	stats    Stats     // Kept: the patterns and the rules given to the sink, bad ones included unless known
	// bad holds the rules disabled by $badfilter lines. A $badfilter acts
	// on the whole list, also above it, so rules the sink received before
	// it was read may be among them: the caller removes them, or parses
	// again with bad as the known set (see parseInto).
	bad badSet
}

// badSet is a set of name rules, by name and then by ruleFlags (one bit per
// combination of kind, exception and $important), so that a name from the
// scanner's buffer can be looked up without allocating.
type badSet map[string]uint16

func (b badSet) has(name string, flags uint8) bool { return b[name]&(1<<flags) != 0 }

// ruleFlags packs what, besides its name, identifies a rule: its kind in
// the low two bits, then the exception and $important bits (the layout of
// nameFact's low byte).
func ruleFlags(kind Kind, allow, important bool) uint8 {
	f := uint8(kind)
	if allow {
		f |= factAllow
	}
	if important {
		f |= factImportant
	}
	return f
}

// parseInto reads a list like Parse and hands every name rule to sink as
// soon as it is read, so that the caller decides what a rule costs in
// memory. Rules in known (the bad set of an earlier pass over the same
// input, or nil) are dropped as they come and counted as disabled.
func parseInto(r io.Reader, opt ParseOptions, known badSet, sink ruleSink) (parseResult, error) {
	p := &listParser{opt: opt, sink: sink, known: known, skipped: make(map[string]int)}
	sc := bufio.NewScanner(r)
	// Room for the line and its newline (a CR counts as part of the line).
	sc.Buffer(make([]byte, 0, 64<<10), maxLineLen+1)
	for sc.Scan() {
		p.line++
		b := sc.Bytes()
		if p.line == 1 {
			b = bytes.TrimPrefix(b, []byte("\uFEFF"))
		}
		p.parseLine(b)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return parseResult{}, fmt.Errorf("line %d: longer than %d bytes: %w", p.line+1, maxLineLen, err)
		}
		return parseResult{}, fmt.Errorf("line %d: %w", p.line+1, err)
	}
	p.applyBadPatterns()
	return parseResult{
		patterns: p.patterns,
		stats: Stats{Lines: p.line, Kept: p.rules + len(p.patterns),
			Comments: p.comments, Skipped: p.skipped},
		bad: p.bad,
	}, nil
}

// listParser holds the state of one parse.
type listParser struct {
	opt   ParseOptions
	sink  ruleSink
	known badSet
	line  int

	rules    int // given to the sink
	comments int
	skipped  map[string]int
	patterns []Pattern
	name     [maxNameLen]byte // normalizeInto's buffer

	// $badfilter rules seen so far; they disable matching rules anywhere in
	// the list, also above them, so they are applied at the end.
	bad         badSet
	badPatterns map[patternKey]bool
	patternKeys []patternKey // parallel to patterns
}

type patternKey struct {
	body             string // the pattern without @@ and $options
	allow, important bool
}

func (p *listParser) skip(reason string) { p.skipped[reason]++ }

func (p *listParser) addRule(name []byte, kind Kind, m ruleOptions) {
	if len(p.known) > 0 && p.known[string(name)]&(1<<ruleFlags(kind, m.allow, m.important)) != 0 {
		p.skip(reasonBadfiltered)
		return
	}
	p.rules++
	p.sink.addRule(name, kind, m.allow, m.important, p.line)
}

func (p *listParser) addPattern(text, body string, re *regexp.Regexp, m ruleOptions) {
	p.patterns = append(p.patterns, Pattern{
		Text: text, Re: re, Allow: m.allow, Important: m.important, Line: p.line,
	})
	p.patternKeys = append(p.patternKeys, patternKey{body, m.allow, m.important})
}

// applyBadPatterns drops every pattern a $badfilter rule disabled. Patterns
// are few and kept here, unlike rules, which went to the sink.
func (p *listParser) applyBadPatterns() {
	if len(p.badPatterns) > 0 {
		kept := p.patterns[:0]
		for i, pat := range p.patterns {
			if p.badPatterns[p.patternKeys[i]] {
				p.skip(reasonBadfiltered)
				continue
			}
			kept = append(kept, pat)
		}
		clear(p.patterns[len(kept):])
		p.patterns = kept
	}
	p.patternKeys = nil
}
