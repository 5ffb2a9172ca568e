package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	// Profiles name IANA zones, which must load the same on hosts without
	// /usr/share/zoneinfo (minimal containers, Windows).
	_ "time/tzdata"

	"gopkg.in/yaml.v3"
)

// implicitProfile is the profile Load makes when a file has no profiles.
const implicitProfile = "default"

// profileDraft is one profile as written, before inheritance. A nil
// pointer (or hasSchedules false) means "not set here: inherit".
type profileDraft struct {
	name    string
	line    int
	inherit located
	parent  *profileDraft // nil: none, unknown, or part of a cycle

	block, allow, deny []string
	blockIPs           []netip.Prefix
	safeSearch         *SafeSearch
	bypass             *bool
	timezone           *string
	location           *time.Location
	answer             *Answer // TTL < 0: the top-level answer's TTL
	log                *LogLevel
	schedules          []Schedule
	hasSchedules       bool
}

// policy reads profiles and default_profile into c once lists, services
// and the top-level block, allow, deny and answer are known. n is the
// profiles mapping (nil if absent), line its key's line, and def the
// default_profile value (nil if absent).
func (p *parser) policy(c *Config, v vocabulary, n *yaml.Node, line int, def *yaml.Node) {
	var drafts []*profileDraft
	if n != nil && !(n.Kind == yaml.MappingNode && len(n.Content) == 0) {
		drafts = p.profiles(n, v)
	} else {
		drafts = []*profileDraft{{name: implicitProfile}}
	}
	c.Profiles = p.resolveProfiles(drafts, c)
	names := make([]string, len(drafts))
	for i, d := range drafts {
		names[i] = d.name
	}
	if def != nil {
		s, ok := p.str(def, "default_profile")
		if !ok {
			return
		}
		if s != "" {
			if slices.Contains(names, s) {
				c.DefaultProfile = s
			} else {
				p.add(def.Line, "default_profile: unknown profile %q%s", s, didYouMean(s, names))
			}
			return
		}
	}
	switch {
	case len(drafts) == 1:
		c.DefaultProfile = drafts[0].name
	case len(drafts) > 1:
		p.add(line, "default_profile: required when more than one profile is defined")
	}
}

// profiles reads the profiles mapping, in file order.
func (p *parser) profiles(n *yaml.Node, v vocabulary) []*profileDraft {
	var out []*profileDraft
	p.mapping(n, "profiles", nil, func(name string, k, val *yaml.Node) {
		if !validCategory(name) {
			p.add(k.Line, "profiles: invalid profile name %q (want a lower-case letter, then up to 31 lower-case letters, digits, _ or -)", name)
			return
		}
		out = append(out, p.profile(name, k.Line, val, v))
	})
	return out
}

// profile reads one profile's own settings.
func (p *parser) profile(name string, line int, n *yaml.Node, v vocabulary) *profileDraft {
	d := &profileDraft{name: name, line: line}
	what := fmt.Sprintf("profile %q", name)
	keys := []string{"inherit", "block", "allow", "deny", "block_ips", "safesearch",
		"bypass_prevention", "timezone", "answer", "log", "schedules"}
	p.mapping(n, what, keys, func(key string, k, val *yaml.Node) {
		// As at the top level, "answer: null" is the null mode.
		if isNull(val) && !(key == "answer" && strings.EqualFold(val.Value, "null")) {
			return
		}
		kw := what + ": " + key
		switch key {
		case "inherit":
			if s, ok := p.str(val, kw); ok && s != "" {
				d.inherit = located{s, val.Line}
			}
		case "block":
			items, _ := p.strings(val, kw)
			d.block, _ = p.policyNames(items, v, what, false)
		case "allow":
			d.allow = p.names(val, kw)
		case "deny":
			d.deny = p.names(val, kw)
		case "block_ips":
			d.blockIPs = p.prefixes(val, kw)
		case "safesearch":
			if s, ok := p.safeSearch(val, kw); ok {
				d.safeSearch = &s
			}
		case "bypass_prevention":
			if b, ok := p.boolean(val, kw); ok {
				d.bypass = &b
			}
		case "timezone":
			p.timezone(val, kw, d)
		case "answer":
			a := Answer{Mode: AnswerNXDomain, TTL: -1}
			p.within(what+": ", func() { p.answer(val, &a) })
			d.answer = &a
		case "log":
			if s, ok := p.str(val, kw); ok {
				switch l := LogLevel(strings.ToLower(s)); l {
				case LogAll, LogBlocked, LogNone:
					d.log = &l
				default:
					p.add(val.Line, "%s: unknown level %q (want all, blocked or none)", kw, s)
				}
			}
		case "schedules":
			d.schedules, d.hasSchedules = p.schedules(val, what, v), true
		}
	})
	return d
}

// within runs fn and puts prefix before each problem it reports, so that a
// reader shared with the top level (answer) names the profile.
func (p *parser) within(prefix string, fn func()) {
	n := len(p.errs.list)
	fn()
	for i := n; i < len(p.errs.list); i++ {
		p.errs.list[i].Msg = prefix + p.errs.list[i].Msg
	}
}

func (p *parser) timezone(n *yaml.Node, what string, d *profileDraft) {
	s, ok := p.str(n, what)
	if !ok || s == "" {
		return
	}
	// LoadLocation also reads files named by the zone; a name with ".."
	// or a leading "/" it refuses itself.
	loc, err := time.LoadLocation(s)
	if err != nil {
		p.add(n.Line, "%s: unknown time zone %q (want an IANA name such as Europe/London)", what, s)
		return
	}
	d.timezone, d.location = &s, loc
}

// resolveProfiles links each profile to its parent, reports unknown
// parents and cycles, and merges every profile with what it inherits.
func (p *parser) resolveProfiles(drafts []*profileDraft, c *Config) []Profile {
	byName := make(map[string]*profileDraft, len(drafts))
	names := make([]string, 0, len(drafts))
	for _, d := range drafts {
		byName[d.name] = d
		names = append(names, d.name)
	}
	for _, d := range drafts {
		if d.inherit.s == "" {
			continue
		}
		if parent, ok := byName[d.inherit.s]; ok {
			d.parent = parent
			continue
		}
		p.add(d.inherit.line, "profile %q: inherit: unknown profile %q%s", d.name, d.inherit.s, didYouMean(d.inherit.s, names))
	}
	p.breakCycles(drafts)

	// The top level is the base every profile starts from.
	top := &Profile{Block: c.Block, Allow: c.Allow, Deny: c.Deny, Answer: c.Answer, Log: LogAll, Location: time.Local}
	done := make(map[*profileDraft]*Profile, len(drafts))
	var resolve func(d *profileDraft) *Profile
	resolve = func(d *profileDraft) *Profile {
		if r, ok := done[d]; ok {
			return r
		}
		base := top
		if d.parent != nil {
			base = resolve(d.parent)
		}
		r := merge(base, d, c.Answer.TTL)
		done[d] = r
		return r
	}
	out := make([]Profile, len(drafts))
	for i, d := range drafts {
		out[i] = *resolve(d)
	}
	return out
}

// breakCycles reports each inheritance cycle once, at the inherit line of
// every profile in it, and cuts the cycle so that resolving terminates.
// Each profile is walked once (three-colour depth-first search).
func (p *parser) breakCycles(drafts []*profileDraft) {
	const (
		unseen = iota
		onPath
		finished
	)
	state := make(map[*profileDraft]int, len(drafts))
	for _, d := range drafts {
		var path []*profileDraft
		cur := d
		for cur != nil && state[cur] == unseen {
			state[cur] = onPath
			path = append(path, cur)
			cur = cur.parent
		}
		if cur != nil && state[cur] == onPath {
			cycle := path[slices.Index(path, cur):]
			for i, m := range cycle {
				chain := make([]string, 0, len(cycle)+1)
				for j := range len(cycle) + 1 {
					chain = append(chain, cycle[(i+j)%len(cycle)].name)
				}
				p.add(m.inherit.line, "profile %q: inherit: cycle %s", m.name, strings.Join(chain, " -> "))
			}
			for _, m := range cycle {
				m.parent = nil
			}
		}
		for _, m := range path {
			state[m] = finished
		}
	}
}

// merge makes a profile from its draft and the resolved profile it
// inherits from (the top level for a profile without a parent).
func merge(base *Profile, d *profileDraft, topTTL time.Duration) *Profile {
	r := &Profile{
		Name:             d.name,
		Inherit:          d.inherit.s,
		Block:            union(base.Block, d.block),
		Allow:            union(base.Allow, d.allow),
		Deny:             union(base.Deny, d.deny),
		BlockIPs:         union(base.BlockIPs, d.blockIPs),
		SafeSearch:       base.SafeSearch,
		BypassPrevention: base.BypassPrevention,
		Timezone:         base.Timezone,
		Location:         base.Location,
		Schedules:        slices.Clone(base.Schedules),
		Answer:           base.Answer,
		Log:              base.Log,
	}
	if d.safeSearch != nil {
		r.SafeSearch = *d.safeSearch
	}
	if d.bypass != nil {
		r.BypassPrevention = *d.bypass
	}
	if d.timezone != nil {
		r.Timezone, r.Location = *d.timezone, d.location
	}
	if d.hasSchedules {
		r.Schedules = d.schedules
	}
	if d.answer != nil {
		r.Answer = *d.answer
		if r.Answer.TTL < 0 {
			r.Answer.TTL = topTTL
		}
	}
	if d.log != nil {
		r.Log = *d.log
	}
	return r
}

// union returns a new slice of a's elements then b's, without duplicates,
// in order; nil if there are none.
func union[T comparable](a, b []T) []T {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make([]T, 0, len(a)+len(b))
	seen := make(map[T]bool, len(a)+len(b))
	for _, s := range [][]T{a, b} {
		for _, x := range s {
			if !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
	}
	return out
}

// didYouMean suggests the known name closest to a misspelt one.
func didYouMean(s string, known []string) string {
	if c := closest(s, known); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}
