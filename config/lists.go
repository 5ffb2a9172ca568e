package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxCategories bounds the categories a config may define; the policy
// keeps one bit per category.
const maxCategories = 64

// lists reads category -> source(s). It returns the sources in file order
// and every category named, even one whose sources have problems, so that
// block is not blamed for a mistake made under lists.
func (p *parser) lists(n *yaml.Node) ([]List, map[string]bool) {
	var out []List
	categories := make(map[string]bool)
	count := 0
	p.mapping(n, "lists", nil, func(cat string, k, v *yaml.Node) {
		if count++; count == maxCategories+1 {
			p.add(k.Line, "lists: too many categories (at most %d)", maxCategories)
		}
		if !validCategory(cat) {
			p.add(k.Line, "lists: invalid category name %q (want a lower-case letter, then up to 31 lower-case letters, digits, _ or -)", cat)
			return
		}
		categories[cat] = true
		what := "lists." + cat
		items, ok := p.list(v, what)
		if ok && len(items) == 0 {
			p.add(k.Line, "%s: no sources", what)
		}
		seen := make(map[string]int, len(items))
		for _, it := range items {
			src, ok := p.source(it, what)
			if !ok {
				continue
			}
			if key := sourceKey(src); key != "" {
				if first, dup := seen[key]; dup {
					p.add(it.Line, "%s: duplicate source %q (also at line %d)", what, src.Name, first)
					continue
				}
				seen[key] = it.Line
			}
			out = append(out, List{Category: cat, Source: src})
		}
	})
	return out, categories
}

// sourceKey identifies a source for duplicate detection; inline sources
// are never duplicates of each other.
func sourceKey(s Source) string {
	switch {
	case s.URL != "":
		return "url " + s.URL
	case s.Path != "":
		return "file " + s.Path
	case s.Builtin != "":
		return "builtin " + s.Builtin
	}
	return ""
}

// source reads one source: a string, or a mapping with exactly one of
// url, file, builtin or inline and optional match, format and name.
func (p *parser) source(n *yaml.Node, what string) (Source, bool) {
	if n.Kind != yaml.MappingNode {
		s, ok := p.str(n, what)
		if !ok {
			return Source{}, false
		}
		src, err := p.sourceString(s)
		if err != nil {
			p.add(n.Line, "%s: %v", what, err)
			return Source{}, false
		}
		return src, true
	}
	src := Source{Match: MatchSubtree}
	var kinds []string
	var written string // the file path as written, for the default name
	ok := true
	keys := []string{"url", "file", "builtin", "inline", "match", "format", "name"}
	p.mapping(n, what, keys, func(key string, k, v *yaml.Node) {
		kw := what + "." + key
		switch key {
		case "url", "file", "builtin", "inline":
			kinds = append(kinds, key)
		}
		if key == "inline" {
			entries, good := p.inline(v, kw)
			if good && len(entries) == 0 {
				p.add(v.Line, "%s: no entries", kw)
				good = false
			}
			src.Inline, ok = entries, ok && good
			return
		}
		s, good := p.str(v, kw)
		if !good {
			ok = false
			return
		}
		var err error
		switch key {
		case "url":
			src.URL, err = sourceURL(s)
		case "file":
			if s == "" {
				err = fmt.Errorf("empty path")
			}
			src.Path, written = p.abs(s), s
		case "builtin":
			src.Builtin, err = builtinName(strings.TrimPrefix(s, "builtin:"))
		case "match":
			switch Match(s) {
			case MatchSubtree, MatchExact:
				src.Match = Match(s)
			default:
				err = fmt.Errorf("unknown match %q (want subtree or exact)", s)
			}
		case "format":
			switch s {
			case "auto", "regex":
				src.Regex = s == "regex"
			default:
				err = fmt.Errorf("unknown format %q (want auto or regex)", s)
			}
		case "name":
			if src.Name = strings.TrimSpace(s); src.Name == "" {
				err = fmt.Errorf("empty name")
			}
		}
		if err != nil {
			p.add(v.Line, "%s: %v", kw, err)
			ok = false
		}
	})
	switch len(kinds) {
	case 0:
		p.add(n.Line, "%s: a source needs one of url, file, builtin or inline", what)
		return Source{}, false
	case 1:
	default:
		p.add(n.Line, "%s: %s and %s both given (a source has exactly one of url, file, builtin or inline)", what, kinds[0], kinds[1])
		return Source{}, false
	}
	if src.Name == "" {
		src.Name = p.defaultName(src, written, n.Line)
	}
	return src, ok
}

// sourceString reads the short form: an http(s) URL, builtin:NAME, or
// else a file path.
func (p *parser) sourceString(s string) (Source, error) {
	src := Source{Match: MatchSubtree}
	lower := strings.ToLower(s)
	var err error
	switch {
	case s == "":
		return src, fmt.Errorf("empty source")
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
		src.URL, err = sourceURL(s)
	case strings.HasPrefix(lower, "builtin:"):
		src.Builtin, err = builtinName(s[len("builtin:"):])
	case strings.Contains(s, "://"):
		return src, fmt.Errorf("%q: unsupported source (want an http(s) URL, builtin:NAME or a file path)", s)
	default:
		src.Path = p.abs(s)
	}
	if err != nil {
		return src, err
	}
	src.Name = p.defaultName(src, s, 0)
	return src, nil
}

// inline reads inline entries: a list of strings, or one string with an
// entry per line (a YAML block scalar). Blank lines are dropped; the
// entries themselves are checked by the list parser, which knows the
// syntaxes.
func (p *parser) inline(n *yaml.Node, what string) ([]string, bool) {
	items, ok := p.strings(n, what)
	var out []string
	for _, it := range items {
		for line := range strings.SplitSeq(it.s, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				out = append(out, line)
			}
		}
	}
	return out, ok
}

// defaultName names a source that has no name: a file by its path as
// written (shorter in logs than the resolved one), inline entries by where
// they are.
func (p *parser) defaultName(src Source, written string, line int) string {
	switch {
	case src.URL != "":
		return src.URL
	case src.Path != "":
		return written
	case src.Builtin != "":
		return "builtin:" + src.Builtin
	}
	return fmt.Sprintf("inline (%s:%d)", filepath.Base(p.file), line)
}

// sourceURL checks an http(s) list URL.
func sourceURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q: not a URL", s)
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("%q: unsupported scheme (want http or https)", s)
	}
	if u.Host == "" {
		return "", fmt.Errorf("%q: missing host", s)
	}
	return s, nil
}

func builtinName(name string) (string, error) {
	if !slices.Contains(builtinLists, name) {
		return "", fmt.Errorf("unknown builtin list %q (want one of %s)", name, strings.Join(builtinLists, ", "))
	}
	return name, nil
}
