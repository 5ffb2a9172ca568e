package upstream

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// dnsHeaderLen is the length of a DNS message header, where the question
// section starts.
const dnsHeaderLen = 12

// udpSock is one connected UDP socket shared by the queries in flight on it,
// each under an ID no other of them has. The kernel drops datagrams from
// any address but the upstream's; of the rest, the pool's reader goroutine
// hands each to the query waiting under its ID with its question (deliver),
// and ignores the others: they may be off-path spoofing attempts.
type udpSock struct {
	conn *net.UDPConn
	age  *time.Timer // retires the socket after udpPool.maxAge; nil for a one-off

	// Guarded by udpPool.mu.
	inflight int  // queries registered or about to be
	queries  int  // queries given this socket, ever
	retired  bool // takes no new queries; closed once inflight is 0
	closed   bool // closed, or about to be: no longer in udpPool.socks

	mu      sync.Mutex
	pending map[uint16]*udpWaiter // by ID
	rng     *rand.ChaCha8         // IDs; seeded from crypto/rand
	dead    error                 // why the socket failed; nil while it works
	ignored uint64                // datagrams ignored so far
	last    ignoredDatagram       // the last of them, for error messages
}

// ignoredDatagram notes why the reader ignored a datagram. Only the reason
// and ID are kept: formatting every ignored datagram would let a flood of
// spoofed ones cost more.
type ignoredDatagram struct {
	why byte // 's'hort, unknown 'i'd or other 'q'uestion
	id  uint16
}

func newUDPSock(conn *net.UDPConn, seed [32]byte) *udpSock {
	return &udpSock{
		conn:    conn,
		pending: make(map[uint16]*udpWaiter),
		rng:     rand.NewChaCha8(seed),
	}
}

// register gives w an ID free on this socket, writes it into w's query and
// lets the reader hand w its answer.
func (s *udpSock) register(w *udpWaiter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead != nil {
		return s.dead
	}
	// udpPool.maxInflight keeps the table far from full, so this ends soon.
	for {
		w.id = uint16(s.rng.Uint64())
		if _, busy := s.pending[w.id]; !busy {
			break
		}
	}
	s.pending[w.id] = w
	binary.BigEndian.PutUint16(w.wire, w.id)
	w.gen++
	w.armed = true
	w.ignored = s.ignored
	return nil
}

// rearm lets the reader hand w another datagram, the last not having been
// the answer.
func (s *udpSock) rearm(w *udpWaiter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead != nil {
		return s.dead
	}
	w.armed = true
	return nil
}

// unregister frees w's ID and leaves w clean for reuse. If describe is set,
// it returns what the reader made of datagrams while w waited: the last one
// for w it rejected, or else how many it ignored, a hint at spoofing or at
// a confused upstream when w's query failed.
func (s *udpSock) unregister(w *udpWaiter, describe bool) (mismatch error) {
	s.mu.Lock()
	delete(s.pending, w.id)
	w.armed = false
	if describe {
		if mismatch = w.rejected; mismatch == nil && s.ignored > w.ignored {
			mismatch = fmt.Errorf("%w: %s", ErrMismatch, s.describeIgnored(s.ignored-w.ignored))
		}
	}
	s.mu.Unlock()
	// Nothing is sent to w once it is out of pending; drop what was.
	select {
	case <-w.ch:
	default:
	}
	w.err, w.rejected = nil, nil
	return mismatch
}

// deliver hands datagram p to the query it answers, if any is waiting. It
// unpacks p outside the lock, so that the queries registering meanwhile do
// not wait for it, and rejects what is no answer. A datagram rejected
// leaves the query waiting, so that the real answer coming next is taken.
func (s *udpSock) deliver(p []byte) {
	w, id, gen, opcode := s.match(p)
	if w == nil {
		return
	}
	r := new(dns.Msg)
	err := r.Unpack(p)
	switch {
	case err != nil:
		err = fmt.Errorf("%w: unpack: %w", ErrMismatch, err)
	case !r.Response:
		err = fmt.Errorf("%w: not a response", ErrMismatch)
	case r.Opcode != opcode:
		err = fmt.Errorf("%w: opcode %d, want %d", ErrMismatch, r.Opcode, opcode)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	// w may have moved on to another socket: its fields are not ours to
	// read unless it is still pending here.
	case s.pending[id] != w || w.gen != gen || !w.armed:
		s.ignore('i', id) // the query gave up meanwhile
	case err != nil:
		w.rejected = err
	default:
		w.armed = false
		w.ch <- r // never blocks: one answer per arming
	}
}

// match returns the query waiting for datagram p, with its ID,
// registration and opcode; nil if p is for no query waiting.
func (s *udpSock) match(p []byte) (w *udpWaiter, id uint16, gen uint64, opcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(p) < dnsHeaderLen {
		s.ignore('s', 0)
		return nil, 0, 0, 0
	}
	id = binary.BigEndian.Uint16(p)
	w = s.pending[id]
	switch {
	case w == nil || !w.armed:
		s.ignore('i', id)
		return nil, 0, 0, 0
	case !w.matches(p):
		s.ignore('q', id)
		return nil, 0, 0, 0
	}
	return w, id, w.gen, int(w.wire[2]>>3) & 0xF
}

func (s *udpSock) ignore(why byte, id uint16) {
	s.ignored++
	s.last = ignoredDatagram{why, id}
}

func (s *udpSock) describeIgnored(n uint64) string {
	var last string
	switch s.last.why {
	case 's':
		last = "too short for DNS"
	case 'i':
		last = fmt.Sprintf("ID %d, which no query awaited", s.last.id)
	default:
		last = fmt.Sprintf("ID %d with another question", s.last.id)
	}
	return fmt.Sprintf("%d datagram(s) ignored on the socket meanwhile (the last: %s)", n, last)
}

// fail marks the socket dead and wakes every query waiting on it with err;
// a socket fails once, the first error counts.
func (s *udpSock) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead != nil {
		return
	}
	s.dead = err
	for _, w := range s.pending {
		if w.armed {
			w.armed = false
			w.err = err
			w.ch <- nil
		}
	}
}

// close stops the age timer and closes the socket, which ends its reader.
func (s *udpSock) close() {
	if s.age != nil {
		s.age.Stop()
	}
	s.conn.Close()
}

// matches reports whether datagram p carries w's question (count, name up
// to ASCII case, type and class), compared on the wire: the full check of
// the unpacked answer comes after, in wait.
func (w *udpWaiter) matches(p []byte) bool {
	e, q := w.nameEnd, w.wire
	if e == 0 {
		return true
	}
	return len(p) >= e+4 && p[4] == q[4] && p[5] == q[5] &&
		equalFoldASCII(p[dnsHeaderLen:e], q[dnsHeaderLen:e]) &&
		string(p[e:e+4]) == string(q[e:e+4])
}

// nameEnd returns the offset just after the uncompressed name at off in
// msg, if type and class follow it; otherwise 0.
func nameEnd(msg []byte, off int) int {
	for off < len(msg) {
		l := int(msg[off])
		switch {
		case l == 0:
			if off+1+4 > len(msg) {
				return 0
			}
			return off + 1
		case l&0xC0 != 0:
			return 0 // a compression pointer or an extended label type
		}
		off += 1 + l
	}
	return 0
}

// equalFoldASCII compares names on the wire ignoring ASCII case (RFC 4343).
// Length octets are below 64, so folding never changes them.
func equalFoldASCII(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
