package config

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// servicesTxt is the built-in service catalogue; its format is described at
// its top.
//
//go:embed services.txt
var servicesTxt string

// BuiltinServices returns the built-in service catalogue, sorted by name.
// Each call returns new slices the caller may change.
func BuiltinServices() []Service {
	s, err := parseCatalogue(servicesTxt)
	if err != nil {
		// The catalogue is part of the program and a test parses it:
		// failing here is a build mistake, not bad input.
		panic(fmt.Sprintf("config: built-in services.txt: %v", err))
	}
	return s
}

// parseCatalogue reads "name: domain domain ..." lines; a line starting with
// a space or tab continues the service above, and # starts a comment.
func parseCatalogue(text string) ([]Service, error) {
	var out []Service
	for i, line := range strings.Split(text, "\n") {
		num := i + 1
		if c := strings.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		var fields []string
		if line[0] == ' ' || line[0] == '\t' {
			if len(out) == 0 {
				return nil, fmt.Errorf("line %d: continuation line before any service", num)
			}
			fields = strings.Fields(line)
		} else {
			name, rest, ok := strings.Cut(line, ":")
			name = strings.TrimSpace(name)
			switch {
			case !ok || !validCategory(name) || reservedName(name):
				return nil, fmt.Errorf("line %d: want \"name: domain ...\" with a valid name", num)
			case slices.ContainsFunc(out, func(s Service) bool { return s.Name == name }):
				return nil, fmt.Errorf("line %d: service %q listed twice", num, name)
			}
			out = append(out, Service{Name: name})
			fields = strings.Fields(rest)
		}
		s := &out[len(out)-1]
		for _, f := range fields {
			d, err := normalizeName(f)
			switch {
			case err != nil:
				return nil, fmt.Errorf("line %d: %q: %v", num, f, err)
			case d != f:
				return nil, fmt.Errorf("line %d: %q: write it as %q", num, f, d)
			case slices.Contains(s.Domains, d):
				return nil, fmt.Errorf("line %d: %q listed twice in %s", num, d, s.Name)
			}
			s.Domains = append(s.Domains, d)
		}
	}
	for _, s := range out {
		if len(s.Domains) == 0 {
			return nil, fmt.Errorf("service %q has no domains", s.Name)
		}
	}
	sortServices(out)
	return out, nil
}

func sortServices(s []Service) {
	slices.SortFunc(s, func(a, b Service) int { return strings.Compare(a.Name, b.Name) })
}

// reservedName reports whether name means something of its own in block
// and allow lists, so that no service may take it.
func reservedName(name string) bool {
	switch name {
	case "all", "bypass", "custom":
		return true
	}
	return false
}

// services merges the file's services over the catalogue. A catalogue
// entry with the name of a category under lists is left out: the user's
// own category wins, and the name must mean one thing in block lists.
func (p *parser) services(n *yaml.Node, categories map[string]bool) []Service {
	var out []Service
	index := make(map[string]int)
	for _, s := range BuiltinServices() {
		if !categories[s.Name] {
			index[s.Name] = len(out)
			out = append(out, s)
		}
	}
	if n == nil {
		return out
	}
	p.mapping(n, "services", nil, func(name string, k, v *yaml.Node) {
		switch {
		case !validCategory(name):
			p.add(k.Line, "services: invalid service name %q (want a lower-case letter, then up to 31 lower-case letters, digits, _ or -)", name)
			return
		case reservedName(name):
			p.add(k.Line, "services: %q is a reserved name (all, bypass and custom mean something of their own in block lists)", name)
			return
		case categories[name]:
			p.add(k.Line, "services: %q: same name as a category under lists", name)
			return
		}
		what := "services." + name
		before := len(p.errs.list)
		domains := p.names(v, what)
		if len(domains) == 0 {
			if len(p.errs.list) == before {
				p.add(k.Line, "%s: no domains", what)
			}
			return
		}
		s := Service{Name: name, Domains: domains}
		if i, ok := index[name]; ok {
			out[i] = s // the user's own replaces the built-in whole
			return
		}
		index[name] = len(out)
		out = append(out, s)
	})
	sortServices(out)
	return out
}

// vocabulary is what block lists and schedules may name: categories
// defined under lists, services, custom (the category of deny) and bypass
// (supplied by Haven itself from builtin:bypass).
type vocabulary struct {
	categories map[string]bool
	services   map[string]bool
	known      []string // every name above, sorted, for suggestions
}

func newVocabulary(categories map[string]bool, services []Service) vocabulary {
	v := vocabulary{categories: categories, services: make(map[string]bool, len(services))}
	v.known = append(v.known, "bypass", "custom")
	for c := range categories {
		v.known = append(v.known, c)
	}
	for _, s := range services {
		v.services[s.Name] = true
		v.known = append(v.known, s.Name)
	}
	slices.Sort(v.known)
	return v
}

func (v vocabulary) has(name string) bool {
	return v.categories[name] || v.services[name] || name == "custom" || name == "bypass"
}

// hint explains an unknown name: the known one it is likely a typo of, or
// where names come from.
func (v vocabulary) hint(name string, all bool) string {
	known := v.known
	if all {
		known = append(slices.Clip(known), "all")
	}
	if c := closest(name, known); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return " (not defined under lists or services)"
}

// policyNames checks the categories and services a block or allow list
// names, dropping unknown ones and duplicates. all reports "all", which
// only a schedule's block may name (allowAll).
func (p *parser) policyNames(items []located, v vocabulary, what string, allowAll bool) (names []string, all bool) {
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		switch {
		case it.s == "all" && allowAll:
			all = true
			continue
		case it.s == "all":
			p.add(it.line, "%s: \"all\" is only allowed in a schedule's block", what)
			continue
		case !v.has(it.s):
			p.add(it.line, "%s: unknown category or service %q%s", what, it.s, v.hint(it.s, allowAll))
			continue
		}
		if !seen[it.s] {
			seen[it.s] = true
			names = append(names, it.s)
		}
	}
	return names, all
}

// closest returns the candidate nearest to s if it is near enough to be a
// likely typo, else "". Ties go to the first candidate.
func closest(s string, candidates []string) string {
	if len(s) > 64 {
		return "" // no name is that long, and distance is quadratic
	}
	s = strings.ToLower(s)
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := distance(s, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}
