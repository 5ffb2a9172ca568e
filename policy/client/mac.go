package client

import (
	"errors"
	"fmt"
)

// MAC is an EUI-48 hardware address. Its zero value means "no address".
type MAC [6]byte

// ParseMAC parses an EUI-48 address written as aa:bb:cc:dd:ee:ff,
// aa-bb-cc-dd-ee-ff or aabb.ccdd.eeff, in either case. Unlike net.ParseMAC it
// accepts only 48-bit addresses and returns a comparable value, so the result
// can key a map.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	ok := false
	switch len(s) {
	case 17:
		ok = (s[2] == ':' || s[2] == '-') && parseGroups(&m, s, 2, s[2])
	case 14:
		ok = parseGroups(&m, s, 4, '.')
	}
	if !ok {
		return MAC{}, fmt.Errorf("invalid MAC address %q", s)
	}
	return m, nil
}

// parseGroups reads s as groups of n hex digits joined by sep.
func parseGroups(m *MAC, s string, n int, sep byte) bool {
	j := 0 // index into s
	for i := range m {
		if i > 0 && i%(n/2) == 0 {
			if s[j] != sep {
				return false
			}
			j++
		}
		hi, ok1 := unhex(s[j])
		lo, ok2 := unhex(s[j+1])
		if !ok1 || !ok2 {
			return false
		}
		m[i] = hi<<4 | lo
		j += 2
	}
	return j == len(s)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// String returns the address as lower-case aa:bb:cc:dd:ee:ff.
func (m MAC) String() string {
	const digits = "0123456789abcdef"
	var b [17]byte
	for i, v := range m {
		if i > 0 {
			b[3*i-1] = ':'
		}
		b[3*i] = digits[v>>4]
		b[3*i+1] = digits[v&0xf]
	}
	return string(b[:])
}

// IsZero reports whether m is the all-zero address, which Haven treats as
// "no address": neighbour entries on NOARP links and broken relays carry it,
// and it names no device.
func (m MAC) IsZero() bool { return m == MAC{} }

var errZeroMAC = errors.New("all-zero MAC address")
