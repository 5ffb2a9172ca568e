package access

import (
	"encoding/binary"
	"net/netip"
)

// key is an address, or an address masked to a prefix, as the two halves
// of its 16-byte form. IPv4 is IPv4-mapped, so an address arriving mapped
// (a dual-stack socket) is already the same key as its IPv4 form, and a
// zone, which is not part of the 16 bytes, drops out: fe80::1%eth0 is
// fe80::1. Working on two words makes prefix matching and bucket keys a
// couple of ANDs each.
type key struct{ hi, lo uint64 }

func keyFrom(a netip.Addr) key {
	b := a.As16()
	return key{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// is4 reports whether k is in ::ffff:0:0/96, the IPv4 addresses.
func (k key) is4() bool { return k.hi == 0 && k.lo>>32 == 0xffff }

func (k key) and(m key) key { return key{k.hi & m.hi, k.lo & m.lo} }

// maskOf is the mask of the first bits (0 to 128) bits of a key.
func maskOf(bits int) key {
	var m key
	switch {
	case bits >= 128:
		m = key{^uint64(0), ^uint64(0)}
	case bits > 64:
		m = key{^uint64(0), ^uint64(0) << (128 - bits)}
	case bits > 0:
		m = key{^uint64(0) << (64 - bits), 0}
	}
	return m
}

// hash spreads keys over sets and counter stripes. The seed is random per
// Guard, so which addresses share a set cannot be worked out from outside.
func hash(k key, seed uint64) uint64 {
	return mix(mix(k.hi^seed) ^ k.lo)
}

// mix is the splitmix64 finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
