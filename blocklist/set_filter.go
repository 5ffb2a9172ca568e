package blocklist

// keyFilter is a blocked Bloom filter over the keys of a segSet: each key
// sets 4 bits of one 64-bit word. Most names looked up are not stored, nor
// are most of their ancestors; the filter turns those searches into one
// memory read. At 8 bits per key about 3% of absent keys pass it and are
// then searched in vain; stored keys always pass.
type keyFilter struct {
	words []uint64
}

const (
	filterBitsPerKey = 8
	fnvOffset        = 14695981039346656037
	fnvPrime         = 1099511628211
)

// keyHash is FNV-1a, chosen because it can be computed one byte at a time:
// the hash of each ancestor's key is a step on the way to the next one.
func keyHash(h uint64, b []byte) uint64 {
	for _, c := range b {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h
}

func hashByte(h uint64, c byte) uint64 { return (h ^ uint64(c)) * fnvPrime }

// mix spreads FNV's weak high bits (the splitmix64 finalizer).
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// newKeyFilterSized returns an empty filter for n keys.
func newKeyFilterSized(n int) keyFilter {
	return keyFilter{words: make([]uint64, max(1, n*filterBitsPerKey/64))}
}

func (f keyFilter) add(h uint64) {
	w, mask := f.slot(h)
	f.words[w] |= mask
}

func (f keyFilter) slot(h uint64) (int, uint64) {
	h = mix(h)
	w := int((h >> 32) * uint64(len(f.words)) >> 32)
	return w, 1<<(h&63) | 1<<(h>>6&63) | 1<<(h>>12&63) | 1<<(h>>18&63)
}

// mayContain reports false only for keys that are certainly absent.
func (f keyFilter) mayContain(h uint64) bool {
	if len(f.words) == 0 {
		return true
	}
	w, mask := f.slot(h)
	return f.words[w]&mask == mask
}
