package access

import (
	"fmt"
	"net/netip"
	"strings"
)

// DefaultAllow returns the networks served when no allow list is given:
// the places a gateway's own clients can be, and none that the internet can
// reach. Loopback, RFC 1918 private space, RFC 6598 carrier-grade NAT
// (Haven behind a CGNAT'd router, or on Tailscale), link-local, and RFC 4193
// unique local IPv6. Global IPv6 is not included: a LAN's delegated prefix
// changes with the ISP, so it has to be listed.
func DefaultAllow() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("fc00::/7"),
		netip.MustParsePrefix("fe80::/10"),
	}
}

// ParsePrefix reads one allow, deny or exempt entry: a prefix such as
// 192.168.1.0/24 or 2001:db8::/56, or a bare address, which stands for
// itself alone. Host bits are cleared and IPv4-mapped IPv6 is made IPv4.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("access: %q is neither an address nor a prefix: %w", s, err)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("access: %q: zones are not allowed", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("access: %w", err)
	}
	return normalize(p), nil
}

// ParsePrefixes reads a list of entries with ParsePrefix, stopping at the
// first bad one.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// normalize masks p and turns an IPv4-mapped prefix into the IPv4 prefix
// it covers, since Check unmaps addresses before matching.
func normalize(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// prefixList matches a key against a list of prefixes. The list is
// scanned in order: configurations hold a handful of entries (the default
// allow list has nine), and a masked compare of two words each, about a
// nanosecond, beats any tree at that size.
type prefixList []prefixEntry

// prefixEntry carries its family because a short IPv6 prefix (::/0, ::/8)
// covers the bits of IPv4-mapped keys, yet means IPv6 only.
type prefixEntry struct {
	net, mask key
	v4        bool
}

func newPrefixList(ps []netip.Prefix) prefixList {
	var l prefixList
	for _, p := range ps {
		if !p.IsValid() {
			continue
		}
		p = normalize(p)
		bits := p.Bits()
		if p.Addr().Is4() {
			bits += 96
		}
		m := maskOf(bits)
		l = append(l, prefixEntry{keyFrom(p.Addr()).and(m), m, p.Addr().Is4()})
	}
	return l
}

func (l prefixList) contains(k key, is4 bool) bool {
	for _, e := range l {
		if k.and(e.mask) == e.net && e.v4 == is4 {
			return true
		}
	}
	return false
}
