package config

import (
	"math"
	"net/netip"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxTTL is the largest TTL a DNS record may carry (RFC 2181 section 8).
const maxTTL = math.MaxInt32 * time.Second

// answer reads the block answer: a mode word, an address (which implies
// mode address), or a mapping {mode, ipv4, ipv6, ttl}.
func (p *parser) answer(n *yaml.Node, a *Answer) {
	if n.Kind == yaml.ScalarNode {
		// "answer: null" is tagged !!null, so read the raw value rather
		// than going through str.
		p.answerWord(n, a)
		return
	}
	if n.Kind != yaml.MappingNode {
		p.add(n.Line, "answer: expected a mode, an address or a mapping, got %s", describe(n))
		return
	}
	var mode string
	var modeLine, ipLine int
	p.mapping(n, "answer", []string{"mode", "ipv4", "ipv6", "ttl"}, func(key string, k, v *yaml.Node) {
		if key == "mode" && isNull(v) && strings.EqualFold(v.Value, "null") {
			mode, modeLine = string(AnswerNull), v.Line
			return
		}
		if isNull(v) {
			return
		}
		what := "answer." + key
		if key == "ttl" {
			if d, ok := p.duration(v, what); ok {
				if d > maxTTL {
					p.add(v.Line, "%s: longer than the largest DNS TTL (2^31-1 seconds)", what)
					return
				}
				a.TTL = d
			}
			return
		}
		s, ok := p.str(v, what)
		if !ok {
			return
		}
		switch key {
		case "mode":
			mode, modeLine = strings.ToLower(s), v.Line
		case "ipv4":
			ipLine = v.Line
			ip, err := netip.ParseAddr(s)
			if err != nil || !ip.Is4() {
				p.add(v.Line, "%s: %q is not an IPv4 address", what, s)
				return
			}
			a.IPv4 = ip
		case "ipv6":
			ipLine = v.Line
			ip, err := netip.ParseAddr(s)
			if err != nil || !ip.Is6() || ip.Is4In6() || ip.Zone() != "" {
				p.add(v.Line, "%s: %q is not an IPv6 address", what, s)
				return
			}
			a.IPv6 = ip
		}
	})
	if mode == "" && ipLine > 0 {
		mode = string(AnswerAddress)
	}
	switch AnswerMode(mode) {
	case "":
	case AnswerNXDomain, AnswerNull, AnswerRefused:
		a.Mode = AnswerMode(mode)
		if ipLine > 0 {
			p.add(ipLine, "answer: addresses are only used with mode: address")
		}
	case AnswerAddress:
		a.Mode = AnswerAddress
		if ipLine == 0 {
			p.add(max(modeLine, n.Line), "answer: mode address needs ipv4, ipv6 or both")
		}
	default:
		p.add(modeLine, "answer.mode: unknown mode %q (want nxdomain, null, refused or address)", mode)
	}
}

// answerWord reads the short form: nxdomain, null, refused or an address.
func (p *parser) answerWord(n *yaml.Node, a *Answer) {
	s := strings.ToLower(n.Value)
	switch AnswerMode(s) {
	case AnswerNXDomain, AnswerNull, AnswerRefused:
		a.Mode = AnswerMode(s)
		return
	case AnswerAddress:
		p.add(n.Line, "answer: address needs an address: write it instead (answer: 192.0.2.10) or use {mode: address, ipv4: ..., ipv6: ...}")
		return
	}
	ip, err := netip.ParseAddr(n.Value)
	switch {
	case err != nil:
		p.add(n.Line, "answer: unknown answer %q (want nxdomain, null, refused, an IP address or a mapping)", n.Value)
	case ip.Zone() != "":
		p.add(n.Line, "answer: %q: a zone is not allowed", n.Value)
	case ip.Is4In6():
		p.add(n.Line, "answer: %q: write IPv4-mapped addresses as IPv4", n.Value)
	case ip.Is4():
		a.Mode, a.IPv4 = AnswerAddress, ip
	default:
		a.Mode, a.IPv6 = AnswerAddress, ip
	}
}
