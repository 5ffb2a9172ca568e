// Package safesearch enforces SafeSearch and YouTube Restricted Mode by
// answering search-engine names with a CNAME to the engine's documented safe
// host, resolved through the rest of the chain.
//
// Rewrite says whether a name is rewritten and to what; Resolve builds the
// answer. The engines' tables (README.md gives each one's source) are fixed
// data compiled into the package.
package safesearch

import (
	"slices"
)

// YouTube is the YouTube Restricted Mode level.
type YouTube uint8

// Restricted Mode levels.
const (
	Off      YouTube = iota // no rewrite
	Moderate                // restrictmoderate.youtube.com
	Strict                  // restrict.youtube.com
)

func (y YouTube) String() string {
	switch y {
	case Off:
		return "off"
	case Moderate:
		return "moderate"
	case Strict:
		return "strict"
	}
	return "unknown"
}

// Settings says which engines are rewritten to their safe hosts.
type Settings struct {
	Google, Bing, DuckDuckGo, Yandex, Ecosia, Pixabay, Brave bool
	YouTube                                                  YouTube
}

// Enabled reports whether any engine is switched on.
func (s Settings) Enabled() bool {
	return s.Google || s.Bing || s.DuckDuckGo || s.Yandex || s.Ecosia ||
		s.Pixabay || s.Brave || s.YouTube != Off
}

// on reports whether s switches engine e on.
func (s Settings) on(e engine) bool {
	switch e {
	case google:
		return s.Google
	case bing:
		return s.Bing
	case duckDuckGo:
		return s.DuckDuckGo
	case yandex:
		return s.Yandex
	case ecosia:
		return s.Ecosia
	case pixabay:
		return s.Pixabay
	case brave:
		return s.Brave
	case youTube:
		return s.YouTube == Moderate || s.YouTube == Strict
	}
	return false
}

// Rewrite returns the safe host for name (a lower-case FQDN with trailing
// dot) under s, and the engine's name ("google", "youtube", …). ok is false
// when name is not an engine name covered by s. Only the names a browser or
// app uses to reach the search itself are covered, by exact match: for
// Google www.google.<tld> and google.<tld>, but not maps.google.com nor
// google.com.evil.test. Rewrite does not allocate.
func Rewrite(name string, s Settings) (target, engine string, ok bool) {
	e, found := hosts[name]
	if !found || !s.on(e) {
		return "", "", false
	}
	t := e.target(s)
	if t == "" {
		return "", "", false // switched on but unsupported: a no-op
	}
	return t, e.String(), true
}

// Hosts returns every name Rewrite rewrites under s, sorted.
func Hosts(s Settings) []string {
	var names []string
	for name, e := range hosts {
		if s.on(e) && e.target(s) != "" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Unsupported returns the engines switched on in s that have no documented
// DNS-level safe host, so that switching them on does nothing; callers
// should report them to the operator. It is empty for every engine known
// today (README.md says where each endpoint is documented).
func Unsupported(s Settings) []string {
	var names []string
	for e := engine(0); e < numEngines; e++ {
		if s.on(e) && e.target(s) == "" {
			names = append(names, e.String())
		}
	}
	return names
}
