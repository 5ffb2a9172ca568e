package config

import (
	"net/netip"
	"strconv"

	"gopkg.in/yaml.v3"
)

// defaultClientRate is the per-client limit when the config names none:
// far above what a busy household device asks (a few per second), low
// enough that one flooding device cannot starve the rest.
const defaultClientRate = 100

// defaultExempt leaves the machine Haven runs on out of rate limiting: a
// local cache or monitoring asks on behalf of many clients, and floods come
// from the network, not from loopback. Writing exempt replaces it.
func defaultExempt() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// access reads {allow, deny}: who may use Haven.
func (p *parser) access(n *yaml.Node, a *Access) {
	p.mapping(n, "access", []string{"allow", "deny"}, func(key string, k, v *yaml.Node) {
		if isNull(v) {
			return
		}
		switch key {
		case "allow":
			a.Allow = p.prefixes(v, "access.allow")
			if len(a.Allow) == 0 {
				p.add(v.Line, "access.allow: an empty list would refuse everyone; leave the key out for the private ranges, or write [0.0.0.0/0, \"::/0\"] to serve everyone")
			}
		case "deny":
			a.Deny = p.prefixes(v, "access.deny")
		}
	})
}

// rateLimit reads {client, burst, prefix_v4, prefix_v6, prefix_burst,
// exempt, action}.
func (p *parser) rateLimit(n *yaml.Node, r *RateLimit) {
	keys := []string{"client", "burst", "prefix_v4", "prefix_v6", "prefix_burst", "exempt", "action"}
	p.mapping(n, "rate_limit", keys, func(key string, k, v *yaml.Node) {
		if isNull(v) {
			return
		}
		what := "rate_limit." + key
		switch key {
		case "client":
			r.Client = p.rate(v, what)
		case "prefix_v4":
			r.PrefixV4 = p.rate(v, what)
		case "prefix_v6":
			r.PrefixV6 = p.rate(v, what)
		case "burst", "prefix_burst":
			b, ok := p.integer(v, what)
			if ok && b < 0 {
				p.add(v.Line, "%s: must not be negative", what)
			}
			if key == "burst" {
				r.Burst = b
			} else {
				r.PrefixBurst = b
			}
		case "exempt":
			r.Exempt = p.prefixes(v, what)
			if r.Exempt == nil {
				r.Exempt = []netip.Prefix{} // written empty: nothing is exempt
			}
		case "action":
			s, ok := p.str(v, what)
			if ok && s != "refuse" && s != "drop" {
				p.add(v.Line, "%s: %q: want refuse or drop", what, s)
			}
			r.Action = s
		}
	})
}

// rate reads queries per second: a non-negative number, 0 = unlimited.
func (p *parser) rate(n *yaml.Node, what string) float64 {
	s, ok := p.str(n, what)
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		p.add(n.Line, "%s: %q: want a number of queries per second, 0 for no limit", what, s)
		return 0
	}
	return f
}
