package blocklist

import "bytes"

// headPrefix packs the first 10 bytes of a key, 6 bits each, into an
// integer that orders as the keys do, so that keys compare by integer
// unless their first 10 bytes tie, which is rarer than a tie of their first
// 8 bytes (com\x01doubleclick and com\x01doubleverify tie in 8). The bytes
// a stored key may hold (keySep, '-', digits, '_', lower-case letters) are
// numbered in byte order, and so are the gaps between them, each a single
// number for all the bytes it holds (only lookup keys have those); 0 is
// below them all, so that a key that ends compares below its
// continuations. As a gap does not tell its bytes apart, the packing stops
// after one.
func headPrefix(k []byte) uint64 {
	var v uint64
	n := 0
	for n < len(k) && n < headChars {
		r := rank[k[n]]
		v = v<<6 | uint64(r&0x3f)
		n++
		if r&rankGap != 0 {
			break
		}
	}
	return v << (6 * (headChars - n))
}

const headChars = 10

// rank is the table of headPrefix: the number of each byte, with rankGap
// set for the bytes of a gap.
const rank = "\x81\x02\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83" +
	"\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83" +
	"\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x04\x85\x85" +
	"\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x90\x90\x90\x90\x90\x90" +
	"\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90" +
	"\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x11" +
	"\x92\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x20\x21" +
	"\x22\x23\x24\x25\x26\x27\x28\x29\x2a\x2b\x2c\xad\xad\xad\xad\xad" +
	"\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad" +
	"\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad" +
	"\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad" +
	"\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad" +
	"\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad" +
	"\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad" +
	"\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad" +
	"\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad\xad"

const rankGap = 0x80

// lastAtMost returns the last i whose key head(i) is <= key, or -1, where
// heads[i] is headPrefix(head(i)), the heads are sorted, and k8 is
// headPrefix(key).
func lastAtMost(heads []uint64, k8 uint64, key []byte, head func(int) []byte) int {
	// hi: the first head whose prefix is > k8. The loop has no branch on
	// the data (the compiler makes the step a conditional move), as the
	// outcome of each comparison is a coin toss.
	if len(heads) == 0 || heads[0] > k8 {
		return -1
	}
	base, n := 0, len(heads)
	for n > 1 {
		half := n >> 1
		if heads[base+half] <= k8 {
			base += half
		}
		n -= half
	}
	hi := base + 1
	if heads[base] != k8 {
		return base
	}
	// Heads whose prefix ties with key's: find the first of them, then
	// compare whole keys. The key is most often below the first (it is a
	// name whose subdomains fill the tied blocks), which one comparison
	// settles.
	lo := 0
	for j := hi - 1; lo < j; {
		m := int(uint(lo+j) >> 1)
		if heads[m] < k8 {
			lo = m + 1
		} else {
			j = m
		}
	}
	if bytes.Compare(head(lo), key) > 0 {
		return lo - 1
	}
	for lo++; lo < hi; {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(head(m), key) <= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}
