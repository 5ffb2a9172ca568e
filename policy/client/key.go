package client

import (
	"fmt"
	"net/netip"
	"strings"
)

// KeyKind says what a device match entry is.
type KeyKind uint8

// Kinds of device match entries.
const (
	KeyClientID KeyKind = iota + 1
	KeyMAC
	KeyIP
	KeyCIDR
)

func (k KeyKind) String() string {
	switch k {
	case KeyClientID:
		return "client id"
	case KeyMAC:
		return "MAC"
	case KeyIP:
		return "IP"
	case KeyCIDR:
		return "CIDR"
	}
	return "unknown"
}

// Key is one parsed device match entry; only the field for Kind is set.
type Key struct {
	Kind KeyKind
	ID   string
	MAC  MAC
	IP   netip.Addr
	Net  netip.Prefix
}

// ParseKey classifies a device match entry as written in the configuration:
//
//	192.168.1.23, fd00::23          an exact IP (IPv4-mapped IPv6 is unmapped)
//	192.168.50.0/24, fd00:1::/64    a CIDR, host bits must be zero
//	02:42:ac:11:00:02               a MAC, in any form ParseMAC takes
//	kids-tablet                     a client id: [a-z0-9][a-z0-9-]{0,62}
//
// The forms are tried in that order, so aa-bb-cc-dd-ee-ff is a MAC even
// though it would also be a valid client id.
func ParseKey(s string) (Key, error) {
	if strings.Contains(s, "/") {
		p, err := parsePrefix(s)
		if err != nil {
			return Key{}, err
		}
		return Key{Kind: KeyCIDR, Net: p}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return Key{}, fmt.Errorf("IP %q: zones are not supported", s)
		}
		return Key{Kind: KeyIP, IP: a.Unmap()}, nil
	}
	if m, err := ParseMAC(s); err == nil {
		if m.IsZero() {
			return Key{}, fmt.Errorf("MAC %q: %w", s, errZeroMAC)
		}
		return Key{Kind: KeyMAC, MAC: m}, nil
	}
	if validID(s) {
		return Key{Kind: KeyClientID, ID: s}, nil
	}
	return Key{}, fmt.Errorf("%q is not an IP, CIDR, MAC address or client id (client ids are 1-63 of a-z, 0-9 and '-', not starting with '-')", s)
}

// String returns the key in the form ParseKey reads.
func (k Key) String() string {
	switch k.Kind {
	case KeyClientID:
		return k.ID
	case KeyMAC:
		return k.MAC.String()
	case KeyIP:
		return k.IP.String()
	case KeyCIDR:
		return k.Net.String()
	}
	return ""
}

// AddKey parses s with ParseKey and appends it to the matching field of d.
func (d *Device) AddKey(s string) error {
	k, err := ParseKey(s)
	if err != nil {
		return fmt.Errorf("device %q: %w", d.Name, err)
	}
	switch k.Kind {
	case KeyClientID:
		d.IDs = append(d.IDs, k.ID)
	case KeyMAC:
		d.MACs = append(d.MACs, k.MAC)
	case KeyIP:
		d.IPs = append(d.IPs, k.IP)
	case KeyCIDR:
		d.Nets = append(d.Nets, k.Net)
	}
	return nil
}

// parsePrefix parses a CIDR and insists on a zero host part: 192.168.1.5/24
// is far more often a typo for an address than a deliberate network.
func parsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("CIDR %q: %w", s, err)
	}
	return canonPrefix(p)
}

// canonPrefix checks p is a network address and rewrites IPv4-mapped IPv6
// prefixes (::ffff:192.168.0.0/112) as IPv4, matching how client addresses
// are unmapped before lookup.
func canonPrefix(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", p)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("CIDR %s has host bits set (network is %s)", p, m)
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96), nil
	}
	return p, nil
}

// validID reports whether s matches ^[a-z0-9][a-z0-9-]{0,62}$: one DNS
// label, so it fits both a DoT SNI first label and a DoH path segment.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
