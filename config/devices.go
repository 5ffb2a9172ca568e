package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// matchUse records which device claimed a match key, and where.
type matchUse struct {
	device string // as messages name it: device "tablet"
	line   int
}

// devices reads the list of devices once the profiles are known. Devices
// and profiles share one namespace, because the CLI (haven pause NAME)
// resolves both.
func (p *parser) devices(n *yaml.Node, c *Config) []Device {
	profiles := make(map[string]bool, len(c.Profiles))
	for _, pr := range c.Profiles {
		profiles[pr.Name] = true
	}
	items, _ := p.list(n, "devices")
	var out []Device
	names := make(map[string]int, len(items))
	keys := make(map[string]matchUse)
	for _, it := range items {
		d, ok := p.device(it, profiles, c.DefaultProfile, keys)
		if !ok {
			continue
		}
		if first, dup := names[d.Name]; dup {
			p.add(it.Line, "device %q: duplicate name (also at line %d)", d.Name, first)
			continue
		}
		names[d.Name] = it.Line
		out = append(out, d)
	}
	return out
}

// device reads one device: {name, match, profile}. keys holds the match
// keys of the devices before it.
func (p *parser) device(n *yaml.Node, profiles map[string]bool, def string, keys map[string]matchUse) (Device, bool) {
	if n.Kind != yaml.MappingNode {
		p.add(n.Line, "devices: expected a mapping, got %s", describe(n))
		return Device{}, false
	}
	what := "device"
	if name, ok := scalarKey(n, "name"); ok && name != "" {
		what = fmt.Sprintf("device %q", name)
	}
	var (
		d       Device
		ok      = true
		matches []located
		matchOK = true
		profile located
		hasName bool
	)
	p.mapping(n, what, []string{"name", "match", "profile"}, func(key string, k, v *yaml.Node) {
		if isNull(v) {
			return
		}
		switch key {
		case "name":
			name, good := p.str(v, what+": name")
			hasName = true
			switch {
			case !good:
				ok = false
			case !validCategory(name):
				p.add(v.Line, "devices: invalid device name %q (want a lower-case letter, then up to 31 lower-case letters, digits, _ or -)", name)
				ok = false
			case profiles[name]:
				p.add(v.Line, "%s: same name as a profile (devices and profiles share one namespace)", what)
				ok = false
			default:
				d.Name = name
			}
		case "match":
			matches, matchOK = p.strings(v, what+": match")
			ok = ok && matchOK
		case "profile":
			if s, good := p.str(v, what+": profile"); good {
				profile = located{s, v.Line}
			} else {
				ok = false
			}
		}
	})
	if !hasName {
		p.add(n.Line, "devices: a device needs a name")
		ok = false
	}
	if len(matches) == 0 && matchOK {
		p.add(n.Line, "%s: match: at least one IP address, CIDR, MAC address or client id is required", what)
		ok = false
	}
	mine := make(map[string]bool, len(matches))
	for _, m := range matches {
		key, err := matchKey(m.s)
		if err != nil {
			p.add(m.line, "%s: match: %q: %v", what, m.s, err)
			ok = false
			continue
		}
		if mine[key] {
			continue // written twice in one device: harmless
		}
		if first, dup := keys[key]; dup {
			p.add(m.line, "%s: match: %q is also in %s (line %d)", what, m.s, first.device, first.line)
			ok = false
			continue
		}
		mine[key] = true
		keys[key] = matchUse{what, m.line}
		d.Match = append(d.Match, key)
	}
	switch {
	case profile.s == "":
		d.Profile = def
	case profiles[profile.s]:
		d.Profile = profile.s
	default:
		names := slices.Sorted(maps.Keys(profiles))
		p.add(profile.line, "%s: unknown profile %q%s", what, profile.s, didYouMean(profile.s, names))
		ok = false
	}
	return d, ok
}

// matchKey checks one way of recognising a device and returns it
// normalised: an IP address, a CIDR (a single-address CIDR becomes the
// address, so that both spellings collide), a 48-bit MAC address in
// lower-case colon form, or a client id (^[a-z0-9][a-z0-9-]{0,62}$, the
// label that DoT's server name or DoH's path carries).
func matchKey(s string) (string, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		if err := plainAddr(ip); err != nil {
			return "", err
		}
		return ip.String(), nil
	}
	if strings.Contains(s, "/") {
		pfx, err := parsePrefix(s)
		if err != nil {
			return "", err
		}
		if pfx.IsSingleIP() {
			return pfx.Addr().String(), nil
		}
		return pfx.String(), nil
	}
	if hw, err := net.ParseMAC(s); err == nil {
		switch {
		case len(hw) != 6:
			return "", errors.New("only 48-bit MAC addresses are supported")
		case string(hw) == "\x00\x00\x00\x00\x00\x00":
			return "", errors.New("the all-zero MAC address names no device")
		}
		return hw.String(), nil
	}
	if validClientID(s) {
		return s, nil
	}
	return "", errors.New("want an IP address, a CIDR, a MAC address or a client id (lower-case letters, digits and -)")
}

// validClientID reports whether s matches ^[a-z0-9][a-z0-9-]{0,62}$: one
// DNS label, as a DoT server name carries it.
func validClientID(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
		default:
			return false
		}
	}
	return true
}

// prefixes reads IP addresses and CIDRs (mac_from, block_ips); an address
// stands for itself (/32 or /128). Duplicates are dropped.
func (p *parser) prefixes(n *yaml.Node, what string) []netip.Prefix {
	items, _ := p.strings(n, what)
	var out []netip.Prefix
	seen := make(map[netip.Prefix]bool, len(items))
	for _, it := range items {
		pfx, err := parsePrefix(it.s)
		if err != nil {
			p.add(it.line, "%s: %q: %v", what, it.s, err)
			continue
		}
		if !seen[pfx] {
			seen[pfx] = true
			out = append(out, pfx)
		}
	}
	return out
}

// parsePrefix reads an address or a CIDR whose host bits are zero.
func parsePrefix(s string) (netip.Prefix, error) {
	var pfx netip.Prefix
	if !strings.Contains(s, "/") {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return pfx, errors.New("not an IP address or CIDR")
		}
		if err := plainAddr(ip); err != nil {
			return pfx, err
		}
		return netip.PrefixFrom(ip, ip.BitLen()), nil
	}
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		return pfx, errors.New("not an IP address or CIDR")
	}
	if err := plainAddr(pfx.Addr()); err != nil {
		return netip.Prefix{}, err
	}
	if m := pfx.Masked(); m != pfx {
		return netip.Prefix{}, fmt.Errorf("host bits set (want %s)", m)
	}
	return pfx, nil
}

// plainAddr rejects the address forms that never match a client or an
// answer: zoned and IPv4-mapped IPv6.
func plainAddr(ip netip.Addr) error {
	switch {
	case ip.Zone() != "":
		return errors.New("a zone is not allowed")
	case ip.Is4In6():
		return errors.New("write IPv4-mapped addresses as IPv4")
	}
	return nil
}
