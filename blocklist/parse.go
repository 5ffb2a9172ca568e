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
	p := &listParser{
		opt:  opt,
		list: &List{Stats: Stats{Skipped: make(map[string]int)}},
	}
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
			return nil, fmt.Errorf("line %d: longer than %d bytes: %w", p.line+1, maxLineLen, err)
		}
		return nil, fmt.Errorf("line %d: %w", p.line+1, err)
	}
	p.applyBadfilters()
	l := p.list
	l.Stats.Lines = p.line
	l.Stats.Kept = len(l.Rules) + len(l.Patterns)
	return l, nil
}

// listParser holds the state of one Parse call.
type listParser struct {
	opt  ParseOptions
	list *List
	line int

	// $badfilter rules seen so far; they disable matching rules anywhere in
	// the list, also above them, so they are applied at the end.
	badRules    map[ruleKey]bool
	badPatterns map[patternKey]bool
	patternKeys []patternKey // parallel to list.Patterns
}

// ruleKey identifies a rule for $badfilter: rules that mean the same to a
// DNS filter are the same rule, whatever format wrote them.
type ruleKey struct {
	name             string
	kind             Kind
	allow, important bool
}

type patternKey struct {
	body             string // the pattern without @@ and $options
	allow, important bool
}

func (p *listParser) skip(reason string) { p.list.Stats.Skipped[reason]++ }

func (p *listParser) addRule(name string, kind Kind, m ruleOptions) {
	p.list.Rules = append(p.list.Rules, Rule{
		Name: name, Kind: kind, Allow: m.allow, Important: m.important, Line: p.line,
	})
}

func (p *listParser) addPattern(text, body string, re *regexp.Regexp, m ruleOptions) {
	p.list.Patterns = append(p.list.Patterns, Pattern{
		Text: text, Re: re, Allow: m.allow, Important: m.important, Line: p.line,
	})
	p.patternKeys = append(p.patternKeys, patternKey{body, m.allow, m.important})
}

// applyBadfilters drops every rule a $badfilter rule disabled.
func (p *listParser) applyBadfilters() {
	l := p.list
	if len(p.badRules) > 0 {
		kept := l.Rules[:0]
		for _, r := range l.Rules {
			if p.badRules[ruleKey{r.Name, r.Kind, r.Allow, r.Important}] {
				p.skip(reasonBadfiltered)
				continue
			}
			kept = append(kept, r)
		}
		clear(l.Rules[len(kept):])
		l.Rules = kept
	}
	if len(p.badPatterns) > 0 {
		kept := l.Patterns[:0]
		for i, pat := range l.Patterns {
			if p.badPatterns[p.patternKeys[i]] {
				p.skip(reasonBadfiltered)
				continue
			}
			kept = append(kept, pat)
		}
		clear(l.Patterns[len(kept):])
		l.Patterns = kept
	}
	p.patternKeys = nil
}
