package blocklist

import (
	"bytes"
	"encoding/binary"
)

// nameSet is an immutable set of keys, each with a small payload, stored
// front-coded: the keys are sorted and each one is written as the length of
// the prefix it shares with the previous key plus the rest of it. Keys are
// names with their labels reversed (see appendKey), so the entries of one
// domain sit together and share most of their bytes. Every setBlockSize-th key
// starts a block and is written whole; a binary search over the block heads
// picks the one block to scan.
//
// Entry layout: shared byte, suffix length byte, suffix, payload uvarint.
type nameSet struct {
	data   []byte
	starts []uint32 // offset of each block in data
	// heads holds the first 8 bytes of each block head, big endian and
	// zero-padded, so that most steps of the binary search compare two
	// integers in one small array instead of chasing into data.
	heads  []uint64
	filter keyFilter
	n      int
}

const (
	setBlockSize = 16
	keySep       = 0x01 // separates labels in a key; sorts before every name byte
	maxKeyLen    = maxNameLen
)

// appendKey appends the key of name (labels reversed, joined by keySep):
// www.example.com becomes com\x01example\x01www. Every ancestor of a name then
// has a key that is a prefix of the name's key, and names sort in label order.
func appendKey[T string | []byte](dst []byte, name T) []byte {
	end := len(name)
	for i := len(name) - 1; i >= -1; i-- {
		if i >= 0 && name[i] != '.' {
			continue
		}
		if end < len(name) {
			dst = append(dst, keySep)
		}
		dst = append(dst, name[i+1:end]...)
		end = i
	}
	return dst
}

func prefix8(k []byte) uint64 {
	if len(k) >= 8 {
		return binary.BigEndian.Uint64(k)
	}
	var b [8]byte
	copy(b[:], k)
	return binary.BigEndian.Uint64(b[:])
}

// Len returns the number of keys.
func (s *nameSet) Len() int { return s.n }

// findHashed is find for a key whose keyHash is h: absent keys are mostly
// ruled out by the filter without a search.
func (s *nameSet) findHashed(key []byte, h uint64) (uint32, bool) {
	if !s.filter.mayContain(h) {
		return 0, false
	}
	return s.find(key)
}

// find returns the payload of key. It does not allocate.
func (s *nameSet) find(key []byte) (uint32, bool) {
	b := s.block(key)
	if b < 0 {
		return 0, false
	}
	end := len(s.data)
	if b+1 < len(s.starts) {
		end = int(s.starts[b+1])
	}
	return scanBlock(s.data[s.starts[b]:end], key)
}

// block returns the last block whose head is <= key, or -1.
func (s *nameSet) block(key []byte) int {
	k8 := prefix8(key)
	// hi: the first block whose head prefix is > k8.
	lo, hi := 0, len(s.heads)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.heads[m] <= k8 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if hi == 0 || s.heads[hi-1] != k8 {
		return hi - 1
	}
	// Heads that share their first 8 bytes with key (rare): find the
	// first of them, then compare whole keys.
	lo = 0
	for j := hi - 1; lo < j; {
		m := int(uint(lo+j) >> 1)
		if s.heads[m] < k8 {
			lo = m + 1
		} else {
			j = m
		}
	}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(s.head(m), key) <= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

// head returns the key that starts block b.
func (s *nameSet) head(b int) []byte {
	p := int(s.starts[b])
	n := int(s.data[p+1])
	return s.data[p+2 : p+2+n]
}

// scanBlock looks for key in one block. It never rebuilds a key: it tracks
// m, the length of the prefix the current entry shares with key, and uses
// each entry's shared length to decide most steps without reading the
// suffix (the entries are sorted and each shared length is maximal).
func scanBlock(d, key []byte) (uint32, bool) {
	m := 0
	for p := 0; p < len(d); {
		shared, n := int(d[p]), int(d[p+1])
		suffix := d[p+2 : p+2+n]
		p += 2 + n
		switch {
		case shared > m:
			// Shares more with the previous entry than key does, so it
			// is still below key.
		case shared < m:
			// Differs from key at shared, upwards: past key.
			return 0, false
		default:
			k := key[m:]
			i := 0
			for i < len(suffix) && i < len(k) && suffix[i] == k[i] {
				i++
			}
			switch {
			case i == len(suffix) && i == len(k):
				v, _ := binary.Uvarint(d[p:])
				return uint32(v), true
			case i == len(k), i < len(suffix) && suffix[i] > k[i]:
				return 0, false
			}
			m += i
		}
		for d[p] >= 0x80 {
			p++
		}
		p++
	}
	return 0, false
}

// each calls f for every key in order, with a buffer it reuses.
func (s *nameSet) each(f func(key []byte, payload uint32)) {
	var key []byte
	for p := 0; p < len(s.data); {
		shared, n := int(s.data[p]), int(s.data[p+1])
		key = append(key[:shared], s.data[p+2:p+2+n]...)
		p += 2 + n
		v, w := binary.Uvarint(s.data[p:])
		p += w
		f(key, uint32(v))
	}
}

// setBuilder writes a nameSet from keys given in strictly increasing order.
// The zero value grows as keys come; presize makes it write into slices of
// the final size, so that building a big set allocates it once.
type setBuilder struct {
	set    nameSet
	prev   []byte
	hashes []uint64 // without presize: the filter is built by finish
	sized  bool
}

// presize prepares for exactly n keys taking dataBytes of entries.
func (b *setBuilder) presize(n, dataBytes int) {
	blocks := (n + setBlockSize - 1) / setBlockSize
	b.set.data = make([]byte, 0, dataBytes)
	b.set.starts = make([]uint32, 0, blocks)
	b.set.heads = make([]uint64, 0, blocks)
	b.set.filter = newKeyFilterSized(n)
	b.sized = true
}

func (b *setBuilder) add(key []byte, payload uint32) {
	s := &b.set
	shared := 0
	if s.n%setBlockSize == 0 {
		s.starts = append(s.starts, uint32(len(s.data)))
		s.heads = append(s.heads, prefix8(key))
	} else {
		shared = commonPrefix(key, b.prev)
	}
	s.data = append(s.data, byte(shared), byte(len(key)-shared))
	s.data = append(s.data, key[shared:]...)
	s.data = binary.AppendUvarint(s.data, uint64(payload))
	b.prev = append(b.prev[:0], key...)
	if b.sized {
		s.filter.add(keyHash(fnvOffset, key))
	} else {
		b.hashes = append(b.hashes, keyHash(fnvOffset, key))
	}
	s.n++
}

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func uvarintLen(v uint32) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// finish returns the set, its slices trimmed to their length.
func (b *setBuilder) finish() nameSet {
	s := b.set
	s.data = trim(s.data)
	s.starts = trim(s.starts)
	s.heads = trim(s.heads)
	if !b.sized {
		s.filter = newKeyFilter(b.hashes)
	}
	return s
}

// trim returns s without spare capacity, copying it only if it has some.
func trim[T any](s []T) []T {
	if cap(s) == len(s) {
		return s
	}
	return append([]T(nil), s...)
}
