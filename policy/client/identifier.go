package client

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
)

// Device is one configured device: a name, a profile, and its match keys.
type Device struct {
	Name    string
	Profile string         // empty means the default profile
	IDs     []string       // DoH path / DoT SNI client ids (lower case)
	MACs    []MAC          // hardware addresses
	IPs     []netip.Addr   // exact addresses
	Nets    []netip.Prefix // networks; the longest match wins
}

// Who is what is known about the asker of one query. Zero fields are
// unknown.
type Who struct {
	ClientID string     // from the DoH path or DoT SNI
	MAC      MAC        // from EDNS0 (FromEDNS) or the neighbour table
	HasMAC   bool       // MAC is set
	Addr     netip.Addr // the source address
}

// Identifier maps a query's asker to a device. It is immutable and safe for
// concurrent use; a configuration reload builds a new one.
type Identifier struct {
	devices []device
	def     string

	ids  map[string]int
	macs map[MAC]int
	ips  map[netip.Addr]int
	nets map[netip.Prefix]int
	// The prefix lengths present in nets, longest first: a lookup masks
	// the address to each in turn, so it costs one map probe per distinct
	// length (rarely more than three) whatever the number of networks.
	bits4, bits6 []int
}

type device struct{ name, profile string }

// NewIdentifier builds an Identifier for devices; queries from no device get
// defaultProfile. It fails on an invalid entry, a duplicate device name, or a
// key (client id, MAC, IP or identical CIDR) claimed by two devices. Nested
// networks are allowed: a /24 inside another device's /16 takes the
// addresses it covers, as the longer prefix always wins.
func NewIdentifier(devices []Device, defaultProfile string) (*Identifier, error) {
	id := &Identifier{
		def:  defaultProfile,
		ids:  make(map[string]int),
		macs: make(map[MAC]int),
		ips:  make(map[netip.Addr]int),
		nets: make(map[netip.Prefix]int),
	}
	names := make(map[string]bool, len(devices))
	for i, d := range devices {
		if d.Name == "" {
			return nil, fmt.Errorf("device %d: no name", i+1)
		}
		if names[d.Name] {
			return nil, fmt.Errorf("device %q: defined twice", d.Name)
		}
		names[d.Name] = true
		if err := id.addDevice(i, d); err != nil {
			return nil, fmt.Errorf("device %q: %w", d.Name, err)
		}
		p := d.Profile
		if p == "" {
			p = defaultProfile
		}
		id.devices = append(id.devices, device{name: d.Name, profile: p})
	}
	for p := range id.nets {
		if p.Addr().Is4() {
			id.bits4 = append(id.bits4, p.Bits())
		} else {
			id.bits6 = append(id.bits6, p.Bits())
		}
	}
	desc := func(a, b int) int { return cmp.Compare(b, a) }
	slices.SortFunc(id.bits4, desc)
	slices.SortFunc(id.bits6, desc)
	id.bits4 = slices.Compact(id.bits4)
	id.bits6 = slices.Compact(id.bits6)
	return id, nil
}

func (id *Identifier) addDevice(i int, d Device) error {
	for _, s := range d.IDs {
		if !validID(s) {
			return fmt.Errorf("invalid client id %q: want 1-63 of a-z, 0-9 and '-', not starting with '-'", s)
		}
		if err := claim(id, id.ids, s, i, "client id"); err != nil {
			return err
		}
	}
	for _, m := range d.MACs {
		if m.IsZero() {
			return errZeroMAC
		}
		if err := claim(id, id.macs, m, i, "MAC"); err != nil {
			return err
		}
	}
	for _, a := range d.IPs {
		if !a.IsValid() {
			return fmt.Errorf("invalid IP")
		}
		if a.Zone() != "" {
			return fmt.Errorf("IP %s: zones are not supported", a)
		}
		if err := claim(id, id.ips, a.Unmap(), i, "IP"); err != nil {
			return err
		}
	}
	for _, p := range d.Nets {
		p, err := canonPrefix(p)
		if err != nil {
			return err
		}
		if err := claim(id, id.nets, p, i, "CIDR"); err != nil {
			return err
		}
	}
	return nil
}

// claim records that device i owns key k. Listing a key twice in the same
// device is harmless and ignored.
func claim[K comparable](id *Identifier, m map[K]int, k K, i int, kind string) error {
	if j, ok := m[k]; ok && j != i {
		return fmt.Errorf("%s %v already belongs to device %q", kind, k, id.devices[j].name)
	}
	m[k] = i
	return nil
}

// Identify returns the device w belongs to and its profile, trying the most
// specific key first: client id, MAC, exact IP, then the longest matching
// CIDR. An unmatched asker gets ("", the default profile). IPv4-mapped IPv6
// addresses match their IPv4 form, and zones are ignored. It does not
// allocate.
func (id *Identifier) Identify(w Who) (device, profile string) {
	if w.ClientID != "" {
		if i, ok := id.lookupID(w.ClientID); ok {
			return id.device(i)
		}
	}
	if w.HasMAC {
		if i, ok := id.macs[w.MAC]; ok {
			return id.device(i)
		}
	}
	if w.Addr.IsValid() {
		a := w.Addr.Unmap().WithZone("")
		if i, ok := id.ips[a]; ok {
			return id.device(i)
		}
		bits := id.bits6
		if a.Is4() {
			bits = id.bits4
		}
		for _, b := range bits {
			p, _ := a.Prefix(b) // b is at most the address length, so no error
			if i, ok := id.nets[p]; ok {
				return id.device(i)
			}
		}
	}
	return "", id.def
}

func (id *Identifier) device(i int) (string, string) {
	d := id.devices[i]
	return d.name, d.profile
}

// lookupID finds a client id case-insensitively: DoT SNI arrives in whatever
// case the client typed, and lowering it into a stack buffer keeps the
// lookup free of allocations.
func (id *Identifier) lookupID(s string) (int, bool) {
	if i, ok := id.ids[s]; ok {
		return i, true
	}
	if len(s) > 63 {
		return 0, false
	}
	var buf [63]byte
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
			upper = true
		}
		buf[i] = c
	}
	if !upper {
		return 0, false
	}
	i, ok := id.ids[string(buf[:len(s)])]
	return i, ok
}
