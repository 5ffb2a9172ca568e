package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Summary describes, for people, what the configuration makes Haven do;
// "haven config check FILE" prints it.
func (c *Config) Summary() string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	if c.File == "" {
		line("config: built-in default")
	} else {
		line("config: %s", c.File)
	}
	line("listen: %s (UDP and TCP)", strings.Join(c.Listen, ", "))
	line("upstreams (in order, timeout %s):", fmtDuration(c.Upstream.Timeout))
	for _, u := range c.Upstreams {
		line("  %s", describeUpstream(u))
	}
	if len(c.Conditional) > 0 {
		line("conditional:")
		for _, cd := range c.Conditional {
			urls := make([]string, len(cd.Upstreams))
			for i, u := range cd.Upstreams {
				urls[i] = u.URL
			}
			line("  %s -> %s", cd.Domain, strings.Join(urls, ", "))
		}
	}
	if c.Cache.Size == 0 {
		line("cache: off")
	} else {
		stale := "never serve stale"
		if c.Cache.ServeStale > 0 {
			stale = "serve stale up to " + fmtDuration(c.Cache.ServeStale)
		}
		line("cache: %d entries, TTL %s to %s, %s", c.Cache.Size,
			fmtDuration(c.Cache.MinTTL), fmtDuration(c.Cache.MaxTTL), stale)
	}
	line("answer: %s, TTL %s", describeAnswer(c.Answer), fmtDuration(c.Answer.TTL))
	if c.DataDir == "" {
		line("data_dir: none (lists kept in memory only)")
	} else {
		line("data_dir: %s", c.DataDir)
	}
	if c.Refresh == 0 {
		line("refresh: never")
	} else {
		line("refresh: every %s", fmtDuration(c.Refresh))
	}
	c.summaryLists(line)
	line("allow: %s", plural(len(c.Allow), "name"))
	line("deny: %s (category custom)", plural(len(c.Deny), "name"))
	if len(c.Block) == 0 {
		line("block: nothing")
	} else {
		line("block: %s", strings.Join(c.Block, ", "))
	}
	line("log: %s, %s", c.Log.Level, c.Log.Format)
	c.summaryProfiles(line)
	c.summaryDevices(line)
	c.summaryInterfaces(line)
	return b.String()
}

// summaryProfiles prints each profile's merged policy, leaving out what is
// at its default.
func (c *Config) summaryProfiles(line func(string, ...any)) {
	line("profiles (unmatched clients: %s):", c.DefaultProfile)
	for _, p := range c.Profiles {
		if p.Inherit != "" {
			line("  %s (inherits %s):", p.Name, p.Inherit)
		} else {
			line("  %s:", p.Name)
		}
		if len(p.Block) == 0 {
			line("    block: nothing")
		} else {
			line("    block: %s", strings.Join(p.Block, ", "))
		}
		if len(p.Allow) > 0 {
			line("    allow: %s", plural(len(p.Allow), "name"))
		}
		if len(p.Deny) > 0 {
			line("    deny: %s", plural(len(p.Deny), "name"))
		}
		if len(p.BlockIPs) > 0 {
			line("    block_ips: %s", joinPrefixes(p.BlockIPs))
		}
		if s := describeSafeSearch(p.SafeSearch); s != "" {
			line("    safesearch: %s", s)
		}
		if p.BypassPrevention {
			line("    bypass prevention: on")
		}
		if p.Timezone != "" {
			line("    timezone: %s", p.Timezone)
		}
		if p.Answer != c.Answer {
			line("    answer: %s, TTL %s", describeAnswer(p.Answer), fmtDuration(p.Answer.TTL))
		}
		if p.Log != LogAll {
			line("    log: %s", p.Log)
		}
		for _, s := range p.Schedules {
			line("    schedule %s: %s %s-%s, %s", s.Name, dayNames(s.Days), s.From, s.To, describeSchedule(s))
		}
	}
}

func (c *Config) summaryDevices(line func(string, ...any)) {
	if len(c.Devices) > 0 {
		line("devices:")
		for _, d := range c.Devices {
			line("  %s -> %s: %s", d.Name, d.Profile, strings.Join(d.Match, ", "))
		}
	}
	builtin := make(map[string][]string)
	for _, s := range BuiltinServices() {
		builtin[s.Name] = s.Domains
	}
	n := 0
	var yours []string
	for _, s := range c.Services {
		b, ok := builtin[s.Name]
		switch {
		case ok && slices.Equal(b, s.Domains):
			n++
		case ok:
			yours = append(yours, fmt.Sprintf("%s (%s, replaces the built-in)", s.Name, plural(len(s.Domains), "name")))
		default:
			yours = append(yours, fmt.Sprintf("%s (%s)", s.Name, plural(len(s.Domains), "name")))
		}
	}
	if len(yours) == 0 {
		line("services: %d built-in", n)
	} else {
		line("services: %d built-in; yours: %s", n, strings.Join(yours, ", "))
	}
	if len(c.MACFrom) > 0 {
		line("mac_from: %s", joinPrefixes(c.MACFrom))
	}
	if c.Neighbors {
		line("neighbors: MAC addresses read from the kernel's neighbour table")
	}
}

func (c *Config) summaryInterfaces(line func(string, ...any)) {
	if len(c.TLS.Listen) > 0 {
		name := ""
		if c.TLS.ServerName != "" {
			name = ", server name " + c.TLS.ServerName
		}
		line("tls: %s%s", strings.Join(c.TLS.Listen, ", "), name)
	}
	if len(c.HTTPS.Listen) > 0 {
		line("https: %s", strings.Join(c.HTTPS.Listen, ", "))
	}
	switch {
	case c.Cert.Cert != "":
		line("cert: %s, key %s", c.Cert.Cert, c.Cert.Key)
	case len(c.TLS.Listen)+len(c.HTTPS.Listen) > 0:
		line("cert: generated (self-signed), kept in %s", c.DataDir)
	}
	if c.HTTP != "" {
		line("http: %s (local API)", c.HTTP)
	}
}

func describeSafeSearch(s SafeSearch) string {
	var on []string
	for _, e := range []struct {
		name string
		on   bool
	}{{"google", s.Google}, {"bing", s.Bing}, {"duckduckgo", s.DuckDuckGo}, {"yandex", s.Yandex},
		{"ecosia", s.Ecosia}, {"pixabay", s.Pixabay}, {"brave", s.Brave}} {
		if e.on {
			on = append(on, e.name)
		}
	}
	if s.YouTube != "" {
		on = append(on, "youtube "+s.YouTube)
	}
	return strings.Join(on, ", ")
}

func describeSchedule(s Schedule) string {
	var parts []string
	switch {
	case s.BlockAll:
		parts = append(parts, "block all")
	case len(s.Block) > 0:
		parts = append(parts, "block "+strings.Join(s.Block, ", "))
	}
	if len(s.Unblock) > 0 {
		parts = append(parts, "allow "+strings.Join(s.Unblock, ", "))
	}
	return strings.Join(parts, "; ")
}

func joinPrefixes(ps []netip.Prefix) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return strings.Join(out, ", ")
}

func (c *Config) summaryLists(line func(string, ...any)) {
	if len(c.Lists) == 0 {
		line("lists: none")
		return
	}
	line("lists:")
	prev := ""
	for _, l := range c.Lists {
		if l.Category != prev {
			state := c.blockedIn(l.Category)
			line("  %s (%s):", l.Category, state)
			prev = l.Category
		}
		line("    %s", describeSource(l.Source))
	}
}

// blockedIn says which profiles block a category (schedules aside).
func (c *Config) blockedIn(category string) string {
	var in []string
	for _, p := range c.Profiles {
		if slices.Contains(p.Block, category) {
			in = append(in, p.Name)
		}
	}
	switch {
	case len(in) == 0:
		return "not blocked"
	case len(in) == len(c.Profiles):
		return "blocked"
	}
	return "blocked in " + strings.Join(in, ", ")
}

func describeUpstream(u Upstream) string {
	s := fmt.Sprintf("%s (%s to %s", u.URL, u.Proto, u.Addr)
	if u.ServerName != "" {
		s += ", TLS name " + u.ServerName
	}
	return s + ")"
}

func describeAnswer(a Answer) string {
	if a.Mode != AnswerAddress {
		return string(a.Mode)
	}
	var addrs []string
	if a.IPv4.IsValid() {
		addrs = append(addrs, a.IPv4.String())
	}
	if a.IPv6.IsValid() {
		addrs = append(addrs, a.IPv6.String())
	}
	return "address " + strings.Join(addrs, " and ")
}

// describeSource prints a source's kind and location, prefixed by its name
// when that says something the location does not.
func describeSource(s Source) string {
	var kind, where string
	switch {
	case s.URL != "":
		kind, where = "url", s.URL
	case s.Path != "":
		kind, where = "file", s.Path
	case s.Builtin != "":
		kind, where = "builtin", s.Builtin
	default:
		kind, where = "inline", plural(len(s.Inline), "entry")
	}
	out := kind + " " + where
	switch {
	case kind == "inline" && strings.HasPrefix(s.Name, "inline ("):
		out = s.Name + ": " + where
	case s.Name != where && s.Name != kind+":"+where:
		out = s.Name + ": " + out
	}
	var notes []string
	if s.Match == MatchExact {
		notes = append(notes, "exact names only")
	}
	if s.Regex {
		notes = append(notes, "regular expressions")
	}
	if len(notes) > 0 {
		out += " (" + strings.Join(notes, ", ") + ")"
	}
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		return fmt.Sprintf("%d %sies", n, noun[:len(noun)-1])
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
