// Package wirecache keeps the final, packed UDP answers Haven sent, per
// policy subject, so that a repeated query is answered by copying bytes:
// the query's ID and question case are patched in and the TTLs counted
// down in place, with no unpacking, no chain and no allocation.
//
// It sits in front of the resolver chain, so it must never outlive a
// decision: every entry carries the policy version it was decided under
// and is ignored once the version changes (a reload, a pause, a list
// refresh), and it expires at its first record's TTL or when the decision
// stops holding (a schedule boundary, the end of a pause), whichever comes
// first. What the chain would answer differently for the same subject,
// name, type and request flags it must not hold; see the server README.
package wirecache

import (
	"hash/maphash"
	"sync/atomic"
	"time"
	"unsafe"
)

// Key is what an answer depends on besides the wire it replays.
type Key struct {
	// Subject names whom the policy decided for (a device or a profile);
	// Version is the policy's version at the time.
	Subject string
	Version uint64
	Name    []byte // question name in wire format, lower case
	Type    uint16
	// Flags are the request bits the answer depends on (the caller's
	// encoding: RD, AD, CD, EDNS, DO).
	Flags uint16
}

// Cache is a fixed-size, four-way set-associative table of answers.
// Readers take no lock: entries are immutable once stored and swapped in
// whole.
type Cache[M any] struct {
	seed  maphash.Seed
	sets  []set[M]
	mask  uint64    // of set indexes
	epoch time.Time // entries' times are offsets from it: 8 bytes, not 24
	door  doorkeeper
}

// set is the slots a key may take, with a tag of each slot's entry: 16
// bits of its key's hash. A lookup reads the set, mostly one cache line,
// and follows only the pointer whose tag matches, instead of reading each
// entry in turn to compare keys: with more answers than the processor's
// caches hold, every entry read is a wait on memory.
//
// A slot's pointer and its tag are written one after the other, not
// together: two stores racing on one slot may leave an entry under the
// other's tag, where lookups miss it until it is replaced. A lookup still
// compares the whole key, so a wrong tag costs a miss, never a wrong
// answer.
type set[M any] struct {
	tags atomic.Uint64
	p    [ways]atomic.Pointer[entry[M]]
}

func tag(h uint64) uint64 { return h >> 48 }

// entry is one stored answer with what is needed to replay it. There may
// be 100,000 of them: each field counts, and everything variable shares
// one allocation.
type entry[M any] struct {
	hash    uint64
	subject string
	version uint64
	// buf is the answer as first sent, then the question name in
	// presentation form (lower case, for Answer's caller), then the offset
	// of every TTL field in the answer (OPT excluded), two bytes each.
	buf     []byte
	wireLen uint16
	nameLen uint8
	qtype   uint16
	flags   uint16
	stored  time.Duration
	expires time.Duration
	meta    M
}

func (e *entry[M]) wire() []byte { return e.buf[:e.wireLen] }

func (e *entry[M]) name() string {
	return unsafe.String(&e.buf[e.wireLen], int(e.nameLen))
}

func (e *entry[M]) ttls() []byte { return e.buf[int(e.wireLen)+int(e.nameLen):] }

// ways is the number of slots a key may take.
const ways = 4

// New returns a cache of about size answers (at least 4, rounded up to a
// power of two). With as many slots as answers in use a few in ten of
// them find their set full; with twice as many, about one in a hundred.
func New[M any](size int) *Cache[M] {
	n := ways
	for n < size && n < 1<<30 {
		n <<= 1
	}
	return &Cache[M]{seed: maphash.MakeSeed(), sets: make([]set[M], n/ways), mask: uint64(n/ways - 1),
		epoch: time.Now(), door: newDoorkeeper(16 * n)}
}

// Len returns the number of slots.
func (c *Cache[M]) Len() int { return len(c.sets) * ways }

// set returns the set of the key whose hash is h.
func (c *Cache[M]) set(h uint64) *set[M] { return &c.sets[h>>2&c.mask] }

func (c *Cache[M]) hash(k *Key) uint64 {
	h := maphash.Bytes(c.seed, k.Name)
	h ^= maphash.String(c.seed, k.Subject) * 0x9e3779b97f4a7c15
	h ^= (k.Version*0xff51afd7ed558ccd + uint64(k.Type)<<16 | uint64(k.Flags)) * 0xc4ceb9fe1a85ec53
	return h ^ h>>29
}

func (e *entry[M]) is(h uint64, k *Key) bool {
	return e.hash == h && e.version == k.Version && e.qtype == k.Type && e.flags == k.Flags &&
		e.subject == k.Subject && sameName(k.Name, e.name())
}

// Answer writes the stored answer for k into dst, with id as its ID,
// asked (the question name as the client wrote it, the same name as
// k.Name but for case) as its question name, and its TTLs aged to now,
// and returns its length, the name in presentation form and the meta
// stored with it. It reports false, writing nothing, when there is no
// fresh entry or the answer is longer than max or dst.
func (c *Cache[M]) Answer(dst []byte, k *Key, id uint16, asked []byte, now time.Time, max int) (n int, name string, meta *M, ok bool) {
	h := c.hash(k)
	s := c.set(h)
	t := now.Sub(c.epoch)
	tags, want := s.tags.Load(), tag(h)
	for j := range ways {
		if tags>>(16*j)&0xffff != want {
			continue
		}
		e := s.p[j].Load()
		if e == nil || !e.is(h, k) {
			continue
		}
		if t >= e.expires || int(e.wireLen) > max || int(e.wireLen) > len(dst) {
			return 0, "", nil, false
		}
		n = copy(dst, e.wire())
		dst[0], dst[1] = byte(id>>8), byte(id)
		copy(dst[headerLen:], asked)
		if age := uint32((t - e.stored) / time.Second); t > e.stored && age > 0 {
			offs := e.ttls()
			for i := 0; i+1 < len(offs); i += 2 {
				off := int(offs[i])<<8 | int(offs[i+1])
				t := uint32(dst[off])<<24 | uint32(dst[off+1])<<16 | uint32(dst[off+2])<<8 | uint32(dst[off+3])
				t -= age // never below 1: the entry expires first
				dst[off], dst[off+1], dst[off+2], dst[off+3] = byte(t>>24), byte(t>>16), byte(t>>8), byte(t)
			}
		}
		return n, e.name(), &e.meta, true
	}
	return 0, "", nil, false
}

// Store keeps wire, an answer sent at now to a query for k, with meta, for
// at most valid (0 = as long as its TTLs allow). Unless seen (the caller
// knows the key was asked before: its answer came out of a cache), it
// keeps nothing, and reports false, the first time it is offered a key
// (lately): most names asked once are never asked again, and would only
// push out those that are. It keeps nothing either for an answer that cannot be replayed
// safely: truncated, malformed, without records, or with a zero TTL; and
// for a name with other characters than lower-case letters, digits, '-'
// and '_'.
func (c *Cache[M]) Store(k *Key, wire []byte, meta M, now time.Time, valid time.Duration, seen bool) bool {
	h := c.hash(k)
	if !c.door.admit(h) && !seen {
		return false
	}
	ttls, minTTL, ok := ttlOffsets(wire, len(k.Name))
	if !ok || minTTL == 0 {
		return false
	}
	name, ok := presentation(k.Name)
	if !ok {
		return false
	}
	life := time.Duration(minTTL) * time.Second
	if valid > 0 && valid < life {
		life = valid
	}
	e := newEntry[M](len(wire) + len(name) + 2*len(ttls))
	buf := append(e.buf[:0], wire...)
	buf = append(buf, name...)
	for _, off := range ttls {
		buf = append(buf, byte(off>>8), byte(off))
	}
	t := now.Sub(c.epoch)
	*e = entry[M]{
		hash: h, subject: k.Subject, version: k.Version,
		buf: buf, wireLen: uint16(len(wire)), nameLen: uint8(len(name)), qtype: k.Type, flags: k.Flags,
		stored: t, expires: t + life, meta: meta,
	}
	s := c.set(h)
	j := s.victim(h, k, t)
	s.p[j].Store(e)
	for shift := 16 * j; ; {
		old := s.tags.Load()
		if s.tags.CompareAndSwap(old, old&^(0xffff<<shift)|tag(h)<<shift) {
			break
		}
	}
	return true
}

// victim picks which slot of s takes a new entry for k: the one holding k
// already, else an empty or expired one, else the one that expires first.
func (s *set[M]) victim(h uint64, k *Key, now time.Duration) int {
	best, bestExp := 0, time.Duration(1<<63-1)
	for j := range ways {
		e := s.p[j].Load()
		switch {
		case e == nil || e.is(h, k):
			return j
		case now >= e.expires:
			best, bestExp = j, -1<<63
		case e.expires < bestExp:
			best, bestExp = j, e.expires
		}
	}
	return best
}
