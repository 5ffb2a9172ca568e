package blocklist

import (
	"encoding/binary"
	"math/bits"
)

// nameSet is an immutable set of keys, each with a small payload, stored
// front-coded: the keys are sorted and each one is written as the length of
// the prefix it shares with the previous key plus the rest of it. Keys are
// names with their labels reversed (see appendKey), so the entries of one
// domain sit together and share most of their bytes. Every setBlockSize-th
// key starts a block and is written whole; a binary search over the block
// heads picks the one block to scan.
//
// An entry is a header byte, then the rest of the key. Key bytes are all
// below 0x80 (name characters and keySep), so the header, which has its top
// bit set, also ends the previous entry: no length is stored. The header
// holds the shared prefix length (0x3f: it is in the next byte) and a flag
// saying that a payload uvarint follows; without it the payload is the
// previous entry's (0 at the start of a block), so names with the same
// payload as their neighbour, nearly all of them, pay nothing for it.
type nameSet struct {
	data   []byte
	starts []uint32 // offset of each block in data
	// heads holds the headPrefix of each block head, so that most steps
	// of the binary search compare two integers in one small array
	// instead of chasing into data.
	heads []uint64
	n     int
}

const (
	setBlockSize = 16
	keySep       = 0x01 // separates labels in a key; sorts before every name byte
	maxKeyLen    = maxNameLen

	entryStart   = 0x80 // set in every header byte, never in a key byte
	entryPayload = 0x40 // a payload uvarint follows the header
	sharedLong   = 0x3f // shared length in the next byte
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

// Len returns the number of keys.
func (s *nameSet) Len() int { return s.n }

// find returns the payload of key. It does not allocate.
func (s *nameSet) find(key []byte) (uint32, bool) {
	_, payload, ok := s.locate(key)
	return payload, ok
}

// locate returns the position of key in the set (0 for the first key) and
// its payload.
func (s *nameSet) locate(key []byte) (int, uint32, bool) {
	return s.locatePrefixed(key, headPrefix(key))
}

// locatePrefixed is locate for a key whose headPrefix is k8.
func (s *nameSet) locatePrefixed(key []byte, k8 uint64) (int, uint32, bool) {
	b := lastAtMost(s.heads, k8, key, s.head)
	if b < 0 || !storable(key) {
		return 0, 0, false
	}
	end := len(s.data)
	if b+1 < len(s.starts) {
		end = int(s.starts[b+1])
	}
	i, payload, ok := scanBlock(s.data[s.starts[b]:end], key)
	return b*setBlockSize + i, payload, ok
}

// head returns the key that starts block b.
func (s *nameSet) head(b int) []byte {
	p := int(s.starts[b])
	h := s.data[p]
	p++ // a block head shares nothing, so its header is one byte
	if h&entryPayload != 0 {
		p += uvarintSize(s.data[p:])
	}
	return s.data[p:suffixEnd(s.data, p)]
}

// first returns the smallest key of a non-empty set.
func (s *nameSet) first() []byte { return s.head(0) }

// scanBlock looks for key, which has no byte of 0x80 or more, in one block
// and returns its position in the block. It never rebuilds a key: it tracks m, the length of the prefix the
// current entry shares with key, and uses each entry's shared length to
// decide most steps without reading the rest (the entries are sorted and
// each shared length is maximal).
func scanBlock(d, key []byte) (int, uint32, bool) {
	m, payload := 0, uint32(0)
	for p, i := 0, 0; p < len(d); i++ {
		// The header, decoded here rather than by readHeader: this loop is
		// the hot path of every lookup that passes the filter.
		h := d[p]
		p++
		shared := int(h & sharedLong)
		if shared == sharedLong {
			shared = int(d[p])
			p++
		}
		if h&entryPayload != 0 {
			if v := d[p]; v < 0x80 {
				payload = uint32(v)
				p++
			} else {
				v, w := binary.Uvarint(d[p:])
				payload, p = uint32(v), p+w
			}
		}
		switch {
		case shared > m:
			// Shares more with the previous entry than key does, so it
			// is still below key.
		case shared < m:
			// Differs from key at shared, upwards: past key.
			return 0, 0, false
		default:
			k := key[m:]
			// The match stops at the header that ends the entry: k has no
			// byte of 0x80 or more.
			j := commonPrefix(d[p:], k)
			end := p+j == len(d) || d[p+j] >= entryStart // the entry ends at j
			switch {
			case end && j == len(k):
				return i, payload, true
			case j == len(k), !end && d[p+j] > k[j]:
				return 0, 0, false
			}
			m += j
			p += j
		}
		p = suffixEnd(d, p)
	}
	return 0, 0, false
}

// storable reports whether key could be in a set: stored keys have no
// byte of 0x80 or more, which a lookup key may have.
func storable(key []byte) bool {
	var or byte
	for _, c := range key {
		or |= c
	}
	return or < entryStart
}

// readHeader reads the header at p of an entry whose predecessor had
// payload prev, and returns the shared length, the entry's payload and the
// offset of the rest of its key.
func readHeader(d []byte, p int, prev uint32) (int, uint32, int) {
	h := d[p]
	p++
	shared := int(h & sharedLong)
	if shared == sharedLong {
		shared = int(d[p])
		p++
	}
	if h&entryPayload != 0 {
		v, w := binary.Uvarint(d[p:])
		prev = uint32(v)
		p += w
	}
	return shared, prev, p
}

// suffixEnd returns the offset of the first byte from p on that starts an
// entry, or len(d): the end of the key bytes at p. It reads 8 bytes at a
// time, as the rest of a key is 8 to 9 bytes long on average.
func suffixEnd(d []byte, p int) int {
	for ; p+8 <= len(d); p += 8 {
		if w := binary.LittleEndian.Uint64(d[p:]) & 0x8080808080808080; w != 0 {
			return p + bits.TrailingZeros64(w)/8
		}
	}
	for p < len(d) && d[p] < entryStart {
		p++
	}
	return p
}

func uvarintSize(b []byte) int {
	n := 1
	for n <= len(b) && b[n-1] >= 0x80 {
		n++
	}
	return n
}

// each calls f for every key in order, with a buffer it reuses.
func (s *nameSet) each(f func(key []byte, payload uint32)) {
	var c setCursor
	c.reset(s)
	for c.next() {
		f(c.key, c.payload)
	}
}

// setCursor reads a set entry by entry.
type setCursor struct {
	s       *nameSet
	p, i    int
	key     []byte
	payload uint32
}

func (c *setCursor) reset(s *nameSet) {
	c.s, c.p, c.i, c.payload = s, 0, 0, 0
	if c.key == nil {
		c.key = make([]byte, 0, maxKeyLen)
	}
}

// next moves to the next entry: c.key and c.payload, valid until the next
// call.
func (c *setCursor) next() bool {
	d := c.s.data
	if c.p >= len(d) {
		return false
	}
	if c.i%setBlockSize == 0 {
		c.payload = 0
	}
	var shared int
	shared, c.payload, c.p = readHeader(d, c.p, c.payload)
	end := suffixEnd(d, c.p)
	c.key = append(c.key[:shared], d[c.p:end]...)
	c.p = end
	c.i++
	return true
}

// setBuilder writes a nameSet from keys given in strictly increasing order.
// It grows as keys come; reset lets one builder write many sets with the
// same buffers, and clone copies the set out at its exact size.
type setBuilder struct {
	set     nameSet
	prev    []byte
	payload uint32
}

func (b *setBuilder) add(key []byte, payload uint32) {
	s := &b.set
	shared := 0
	if s.n%setBlockSize == 0 {
		s.starts = append(s.starts, uint32(len(s.data)))
		s.heads = append(s.heads, headPrefix(key))
		b.payload = 0
	} else {
		shared = commonPrefix(key, b.prev)
	}
	h := byte(entryStart | min(shared, sharedLong))
	if payload != b.payload {
		h |= entryPayload
	}
	s.data = append(s.data, h)
	if shared >= sharedLong {
		s.data = append(s.data, byte(shared))
	}
	if payload != b.payload {
		s.data = binary.AppendUvarint(s.data, uint64(payload))
		b.payload = payload
	}
	s.data = append(s.data, key[shared:]...)
	b.prev = append(b.prev[:0], key...)
	s.n++
}

func (b *setBuilder) reset() {
	b.set = nameSet{data: b.set.data[:0], starts: b.set.starts[:0], heads: b.set.heads[:0]}
	b.prev, b.payload = b.prev[:0], 0
}

// clone returns a copy of the set written so far, in slices of exactly its
// size.
func (b *setBuilder) clone() nameSet {
	s := b.set
	s.data = exactCopy(s.data)
	s.starts = exactCopy(s.starts)
	s.heads = exactCopy(s.heads)
	return s
}

// finish returns the set, its slices trimmed to their length.
func (b *setBuilder) finish() nameSet {
	s := b.set
	s.data = trim(s.data)
	s.starts = trim(s.starts)
	s.heads = trim(s.heads)
	return s
}

// commonPrefix returns the length of the common prefix of a and b. It
// compares 8 bytes at a time.
func commonPrefix(a, b []byte) int {
	j := 0
	for ; j+8 <= len(a) && j+8 <= len(b); j += 8 {
		if x := binary.LittleEndian.Uint64(a[j:]) ^ binary.LittleEndian.Uint64(b[j:]); x != 0 {
			return j + bits.TrailingZeros64(x)/8
		}
	}
	for j < len(a) && j < len(b) && a[j] == b[j] {
		j++
	}
	return j
}

// trim returns s without spare capacity, copying it only if it has some.
func trim[T any](s []T) []T {
	if cap(s) == len(s) {
		return s
	}
	return exactCopy(s)
}

// exactCopy returns a copy of s whose capacity is its length (append may
// round a capacity up).
func exactCopy[T any](s []T) []T {
	c := make([]T, len(s))
	copy(c, s)
	return c
}
