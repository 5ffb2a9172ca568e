package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxAliases bounds the alias uses (*name) a file may make. A YAML "billion
// laughs" file expands exponentially when walked, and an anchor may even
// contain an alias to itself; neither may hang the loader.
const maxAliases = 100

// parser walks one yaml.Node tree into a Config, collecting every problem
// instead of stopping at the first.
type parser struct {
	errs
	dir     string // relative file paths are resolved against it
	aliases int
}

// located is a string value with the line it was written on.
type located struct {
	s    string
	line int
}

// resolve follows aliases to the node they name.
func (p *parser) resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		if p.aliases++; p.aliases > maxAliases {
			if !p.stop {
				p.add(n.Line, "too many alias uses (at most %d)", maxAliases)
				p.stop = true
			}
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
		}
		n = n.Alias
	}
	return n
}

// isNull reports whether n is an empty value ("key:", "~" or "null"),
// which everywhere means "not set".
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names the kind of a node for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch t := n.ShortTag(); t {
		case "!!null":
			return "nothing"
		case "!!str":
			return "a string"
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		default:
			return "a value tagged " + t
		}
	}
	return "an unsupported YAML node"
}

// str reads a scalar as a string. Numbers and booleans are accepted as
// written ("name: 2024" is a fine name); the value decides validity.
func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	n = p.resolve(n)
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
			return n.Value, true
		}
	}
	p.add(n.Line, "%s: expected a string, got %s", what, describe(n))
	return "", false
}

// list returns the elements of a list. A single value stands for a list of
// one, so "upstreams: tls://1.1.1.1" needs no brackets. Null is an empty
// list; ok is false only when a problem was reported.
func (p *parser) list(n *yaml.Node, what string) (items []*yaml.Node, ok bool) {
	n = p.resolve(n)
	switch {
	case n.Kind == yaml.SequenceNode:
		items = make([]*yaml.Node, 0, len(n.Content))
		for _, e := range n.Content {
			items = append(items, p.resolve(e))
		}
		return items, true
	case isNull(n):
		return nil, true
	case n.Kind == yaml.ScalarNode, n.Kind == yaml.MappingNode:
		return []*yaml.Node{n}, true
	}
	p.add(n.Line, "%s: expected a list, got %s", what, describe(n))
	return nil, false
}

// strings reads a list of strings.
func (p *parser) strings(n *yaml.Node, what string) ([]located, bool) {
	items, ok := p.list(n, what)
	out := make([]located, 0, len(items))
	for _, e := range items {
		if s, good := p.str(e, what); good {
			out = append(out, located{s, e.Line})
		} else {
			ok = false
		}
	}
	return out, ok
}

// integer reads a scalar integer.
func (p *parser) integer(n *yaml.Node, what string) (int, bool) {
	n = p.resolve(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		var v int
		if err := n.Decode(&v); err != nil {
			p.add(n.Line, "%s: %q is out of range", what, n.Value)
			return 0, false
		}
		return v, true
	}
	p.add(n.Line, "%s: expected an integer, got %s", what, describe(n))
	return 0, false
}

// duration reads a non-negative duration.
func (p *parser) duration(n *yaml.Node, what string) (time.Duration, bool) {
	s, ok := p.str(n, what)
	if !ok {
		return 0, false
	}
	d, err := parseDuration(s)
	if err != nil {
		p.add(n.Line, "%s: %v", what, err)
		return 0, false
	}
	return d, true
}

// parseDuration parses a non-negative Go duration ("90s", "1h30m"), a plain
// 0, or whole days with an optional Go duration after them ("7d",
// "1d12h"): Go has no day unit, yet days are how list refresh and cache
// times are thought of.
func parseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("%q must not be negative", s)
	}
	bad := func() error {
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return fmt.Errorf("duration %q has no unit (want e.g. 90s, 15m, 4h or 7d)", s)
		}
		return fmt.Errorf("invalid duration %q (want e.g. 90s, 15m, 4h or 7d)", s)
	}
	var days time.Duration
	rest := s
	if head, tail, ok := strings.Cut(s, "d"); ok {
		n, err := strconv.ParseUint(head, 10, 64)
		if err != nil || head == "" || head[0] == '+' {
			return 0, bad()
		}
		if n > uint64(math.MaxInt64/int64(24*time.Hour)) {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		days, rest = time.Duration(n)*24*time.Hour, tail
		if rest == "" {
			return days, nil
		}
		if rest[0] < '0' || rest[0] > '9' {
			return 0, bad()
		}
	}
	d, err := time.ParseDuration(rest)
	if err != nil {
		return 0, bad()
	}
	if d > math.MaxInt64-days {
		return 0, fmt.Errorf("duration %q is too long", s)
	}
	return days + d, nil
}

// mapping walks a mapping, calling fn with each key and its (resolved)
// value. Duplicate keys are reported, and so are keys not in known unless
// known is nil (for mappings whose keys are data, such as lists).
func (p *parser) mapping(n *yaml.Node, what string, known []string, fn func(key string, k, v *yaml.Node)) {
	n = p.resolve(n)
	if isNull(n) {
		return
	}
	prefix := ""
	if what != "" {
		prefix = what + ": "
	}
	if n.Kind != yaml.MappingNode {
		p.add(n.Line, "%sexpected a mapping, got %s", prefix, describe(n))
		return
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := p.resolve(n.Content[i]), p.resolve(n.Content[i+1])
		switch {
		case k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge":
			p.add(k.Line, "%smerge keys (<<) are not supported", prefix)
			continue
		case k.Kind != yaml.ScalarNode:
			p.add(k.Line, "%skeys must be strings, got %s", prefix, describe(k))
			continue
		}
		key := k.Value
		if first, dup := seen[key]; dup {
			p.add(k.Line, "%sduplicate key %q (first at line %d)", prefix, key, first)
			continue
		}
		seen[key] = k.Line
		if known != nil && !slices.Contains(known, key) {
			p.add(k.Line, "%sunknown key %q%s", prefix, key, suggest(key, known))
			continue
		}
		fn(key, k, v)
	}
}

// suggest offers the known key closest to a misspelt one, or lists them
// all when none is close.
func suggest(key string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := distance(strings.ToLower(key), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return " (want " + strings.Join(known, ", ") + ")"
}

// distance is the Levenshtein distance between two short strings.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// fmtDuration prints a duration the way it is written in a file: "4h"
// rather than "4h0m0s", "7d" rather than "168h0m0s".
func fmtDuration(d time.Duration) string {
	if d >= 48*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
