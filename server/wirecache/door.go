package wirecache

import "sync/atomic"

// doorkeeper remembers, roughly, which keys were offered lately: a bit per
// key hash in a table of bits, wiped whenever a sixteenth of its bits have
// been set (TinyLFU's doorkeeper). A key is admitted the second time it is
// offered; a false "seen" (another key's bit, at most one chance in
// sixteen) admits a key at once, which costs only the room it takes. A
// quarter was tried first: on a stream of one-off names a quarter of them
// got in, and the cache filled with answers never asked again.
type doorkeeper struct {
	bits []atomic.Uint64
	mask uint64 // of bit indexes
	set  atomic.Int64
}

func newDoorkeeper(nbits int) doorkeeper {
	n := 1024 // a small cache still remembers a few dozen keys
	for n < nbits {
		n <<= 1
	}
	return doorkeeper{bits: make([]atomic.Uint64, n/64), mask: uint64(n - 1)}
}

// admit reports whether h was offered since the last wipe, and marks it.
func (d *doorkeeper) admit(h uint64) bool {
	// The slot index uses h's low bits; these are its high ones.
	i := (h >> 32) & d.mask
	w, b := &d.bits[i/64], uint64(1)<<(i%64)
	// A load first: a seen key, the common case, writes nothing, so the
	// word's cache line stays shared between cores. The Or's old value
	// decides a race: of two offers at once, one is the first.
	if w.Load()&b != 0 || w.Or(b)&b != 0 {
		return true
	}
	if d.set.Add(1) > int64(len(d.bits)*64/16) {
		d.set.Store(0)
		for j := range d.bits {
			d.bits[j].Store(0)
		}
	}
	return false
}
