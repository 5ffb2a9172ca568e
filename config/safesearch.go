package config

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// safeSearch reads true (every engine, YouTube strict), false (none) or a
// mapping of engines; engines a mapping leaves out are off.
func (p *parser) safeSearch(n *yaml.Node, what string) (SafeSearch, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		on, ok := p.boolean(n, what)
		if !on {
			return SafeSearch{}, ok
		}
		return SafeSearch{Google: true, Bing: true, DuckDuckGo: true, Yandex: true,
			Ecosia: true, Pixabay: true, Brave: true, YouTube: "strict"}, true
	}
	if n.Kind != yaml.MappingNode {
		p.add(n.Line, "%s: expected true, false or a mapping of engines, got %s", what, describe(n))
		return SafeSearch{}, false
	}
	var s SafeSearch
	ok := true
	keys := []string{"google", "bing", "duckduckgo", "yandex", "ecosia", "pixabay", "brave", "youtube"}
	p.mapping(n, what, keys, func(key string, k, v *yaml.Node) {
		if isNull(v) {
			return
		}
		kw := what + "." + key
		if key == "youtube" {
			var good bool
			s.YouTube, good = p.youTube(v, kw)
			ok = ok && good
			return
		}
		on, good := p.boolean(v, kw)
		ok = ok && good
		switch key {
		case "google":
			s.Google = on
		case "bing":
			s.Bing = on
		case "duckduckgo":
			s.DuckDuckGo = on
		case "yandex":
			s.Yandex = on
		case "ecosia":
			s.Ecosia = on
		case "pixabay":
			s.Pixabay = on
		case "brave":
			s.Brave = on
		}
	})
	return s, ok
}

// youTube reads YouTube's restricted mode: strict, moderate, or false/off
// for none; true means strict.
func (p *parser) youTube(n *yaml.Node, what string) (string, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		if on, ok := p.boolean(n, what); on && ok {
			return "strict", true
		}
		return "", true
	}
	s, ok := p.str(n, what)
	if !ok {
		return "", false
	}
	switch s = strings.ToLower(s); s {
	case "strict", "moderate":
		return s, true
	case "off":
		return "", true
	}
	p.add(n.Line, "%s: unknown mode %q (want strict, moderate or false)", what, s)
	return "", false
}

// boolean reads true or false.
func (p *parser) boolean(n *yaml.Node, what string) (bool, bool) {
	n = p.resolve(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	p.add(n.Line, "%s: expected true or false, got %s", what, describe(n))
	return false, false
}
