package cache

import (
	"encoding/binary"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// key identifies what an answer answers. The DO and CD bits are part of it
// because they change the answer (DNSSEC records present, validation
// skipped), so queries differing in them never share an entry.
type key struct {
	name   string // lower case
	qtype  uint16
	qclass uint16
	flags  uint8
}

// Bits of key.flags.
const (
	flagDO uint8 = 1 << iota
	flagCD
)

func keyOf(m *dns.Msg) key {
	q := m.Question[0]
	// ToLower returns its argument unchanged, without allocating, when the
	// name is already lower case, as the server guarantees.
	k := key{name: strings.ToLower(q.Name), qtype: q.Qtype, qclass: q.Qclass}
	if m.CheckingDisabled {
		k.flags |= flagCD
	}
	if o := m.IsEdns0(); o != nil && o.Do() {
		k.flags |= flagDO
	}
	return k
}

// entry is one remembered answer, in one allocation: when it was stored
// and when it expires, as offsets from the cache's epoch (8 bytes each),
// the key it answers, then the answer packed. Packed, it is a few hundred
// bytes instead of a tree of RR structs, and unpacking gives every hit its
// own message to change; in one piece with its times and key, it is one
// object for the garbage collector to mark where a struct with two
// time.Time, a slice and the key's name string took three. Its TTLs are
// those at stored.
//
// The key is kept here, not in the LRU, which is keyed by the key's hash
// (see Cache.slot): a 64-bit map key instead of a 24-byte struct with a
// string makes each of a miss's map operations cheaper, and the entry
// checks the full key on every lookup, so a collision is a miss, never
// another name's answer.
type entry []byte

// Layout of an entry's head: stored and expires, then the key's flags,
// type, class and name length, then the name, then the answer.
const (
	entryTimes = 16
	entryKey   = entryTimes + 1 + 2 + 2 + 2
)

func newEntry(k *key, packed []byte, stored, expires time.Duration) entry {
	e := make(entry, entryKey+len(k.name)+len(packed))
	binary.LittleEndian.PutUint64(e, uint64(stored))
	binary.LittleEndian.PutUint64(e[8:], uint64(expires))
	e[entryTimes] = k.flags
	binary.LittleEndian.PutUint16(e[entryTimes+1:], k.qtype)
	binary.LittleEndian.PutUint16(e[entryTimes+3:], k.qclass)
	binary.LittleEndian.PutUint16(e[entryTimes+5:], uint16(len(k.name)))
	n := copy(e[entryKey:], k.name)
	copy(e[entryKey+n:], packed)
	return e
}

func (e entry) stored() time.Duration  { return time.Duration(binary.LittleEndian.Uint64(e)) }
func (e entry) expires() time.Duration { return time.Duration(binary.LittleEndian.Uint64(e[8:])) }
func (e entry) nameLen() int           { return int(binary.LittleEndian.Uint16(e[entryTimes+5:])) }
func (e entry) packed() []byte         { return e[entryKey+e.nameLen():] }

// is reports whether e answers k.
func (e entry) is(k *key) bool {
	return e[entryTimes] == k.flags &&
		binary.LittleEndian.Uint16(e[entryTimes+1:]) == k.qtype &&
		binary.LittleEndian.Uint16(e[entryTimes+3:]) == k.qclass &&
		string(e[entryKey:entryKey+e.nameLen()]) == k.name
}

// fresh returns the answer with every TTL lowered by the whole seconds of
// age, how long ago it was stored. TTLs never drop below 1: the entry is
// fresh, and a TTL of 0 would tell the client not to cache it at all.
func (e entry) fresh(age time.Duration) (*dns.Msg, error) {
	m := new(dns.Msg)
	if err := m.Unpack(e.packed()); err != nil {
		return nil, err
	}
	secs := seconds(age)
	eachRR(m, func(h *dns.RR_Header) {
		if h.Ttl > secs {
			h.Ttl -= secs
		} else {
			h.Ttl = 1
		}
	})
	return m, nil
}

// staleUDPSize is the payload size written in a stale answer's OPT; the
// server rebuilds the OPT, keeping only its Extended DNS Errors.
const staleUDPSize = 1232

// staleMsg returns the answer as an RFC 8767 stale answer: every TTL set to
// ttl and an Extended DNS Error "Stale Answer" (RFC 8914 code 3) attached.
func (e entry) staleMsg(ttl uint32) (*dns.Msg, error) {
	m := new(dns.Msg)
	if err := m.Unpack(e.packed()); err != nil {
		return nil, err
	}
	eachRR(m, func(h *dns.RR_Header) { h.Ttl = ttl })
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: staleUDPSize}}
	o.Option = append(o.Option, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeStaleAnswer})
	m.Extra = append(m.Extra, o)
	return m, nil
}

// cacheTTL returns how long, in seconds, m may be cached, and false if it
// must not be: truncated answers, rcodes other than NOERROR and NXDOMAIN,
// negative answers without an SOA (RFC 2308 section 5: they SHOULD NOT be
// cached), and answers whose TTL is 0 after clamping.
//
// The TTL is the smallest over the answer and authority sections, the SOA
// counting as min(its TTL, its MINIMUM) (RFC 2308 section 3); for a plain
// negative answer that is the SOA's alone, while a CNAME chain ending in
// NXDOMAIN or NODATA is kept no longer than its CNAMEs.
func (c *Cache) cacheTTL(m *dns.Msg) (uint32, bool) {
	if m.Truncated || (m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError) {
		return 0, false
	}
	negative := m.Rcode == dns.RcodeNameError || len(m.Answer) == 0
	ttl, soa, found := uint32(0), false, false
	for _, s := range [...][]dns.RR{m.Answer, m.Ns} {
		for _, rr := range s {
			h := rr.Header()
			if h.Rrtype == dns.TypeOPT {
				continue
			}
			t := h.Ttl
			if x, ok := rr.(*dns.SOA); ok {
				soa = true
				t = min(t, x.Minttl)
			}
			if !found || t < ttl {
				ttl, found = t, true
			}
		}
	}
	if !found || (negative && !soa) {
		return 0, false
	}
	ttl = c.clamp(ttl)
	return ttl, ttl > 0
}

// normalise rewrites m into the form stored: OPT records dropped (the
// server builds its own), each SOA's TTL lowered to its MINIMUM, and every
// TTL clamped to [MinTTL, MaxTTL] so that clients keep the answer as long as
// the cache does, no longer.
func (c *Cache) normalise(m *dns.Msg) {
	m.Answer = dropOPT(m.Answer)
	m.Ns = dropOPT(m.Ns)
	m.Extra = dropOPT(m.Extra)
	for _, rr := range m.Ns {
		if x, ok := rr.(*dns.SOA); ok {
			x.Hdr.Ttl = min(x.Hdr.Ttl, x.Minttl)
		}
	}
	eachRR(m, func(h *dns.RR_Header) { h.Ttl = c.clamp(h.Ttl) })
}

// clamp bounds a TTL by MinTTL and MaxTTL, MaxTTL winning if they cross.
func (c *Cache) clamp(ttl uint32) uint32 {
	ttl = max(ttl, c.minTTL)
	if c.maxTTL > 0 {
		ttl = min(ttl, c.maxTTL)
	}
	return ttl
}

// dropOPT removes OPT records from s, in place.
func dropOPT(s []dns.RR) []dns.RR {
	out := s[:0]
	for _, rr := range s {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	clear(s[len(out):])
	return out
}

// eachRR calls f with the header of every record in m except OPT, whose TTL
// field holds flags, not a TTL.
func eachRR(m *dns.Msg, f func(*dns.RR_Header)) {
	for _, s := range [...][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range s {
			if h := rr.Header(); h.Rrtype != dns.TypeOPT {
				f(h)
			}
		}
	}
}
