package server

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

// Prefetching (Options.Prefetch): a batched reader sends the queries it
// cannot replay upstream itself, queued and written with one sendmmsg per
// batch on a connected socket of its own; that socket's reader takes the
// answers with recvmmsg, runs the chain on each with the answer in hand
// (resolver.Prefetched), and writes the replies with one sendmmsg. A miss
// then costs no goroutine hand-over and no system call of its own: with a
// worker per miss, the worker, its wait on the upstream and its three
// system calls cost more than the chain itself. Whatever the socket's
// reader cannot settle without waiting goes to a worker as before, from
// scratch: a truncated answer, a failing rcode, a query the chain no
// longer forwards as it was sent, and a query unanswered after
// Options.PrefetchWait (the worker's chain then tries the next upstream).

// prefetchTicks is how many times per Options.PrefetchWait the waits are
// checked: a query waits up to a tenth longer.
const prefetchTicks = 10

// prefetched is a query sent upstream by a reader, waiting for its answer,
// or a query waiting for the answer to another's (a follower).
type prefetched struct {
	slowJob
	to       sockaddr
	deadline time.Time
	fk       flight
	// followers are the queries that would have sent the same upstream
	// query while this one waited: they take its answer.
	followers []*prefetched
	// Once answered: the chain's query, to observe, and its answer's
	// rcode; in one allocation with the rest.
	q     resolver.Query
	pre   resolver.Prefetched
	rcode int
}

// flight is what an upstream query asks, and of whom. Queries that would
// send the same one while it waits wait for its answer instead, as the
// cache's flights make them wait when workers ask: a hundred devices
// asking a new name at once send it upstream once.
type flight struct {
	name          string
	qtype, qclass uint16
	bits          uint8 // the upstream query's CD, AD and DO
	to            netip.AddrPort
}

// join makes p follow the query in flight for p.fk and reports true, or
// makes p that query and reports false.
func (pf *prefetcher) join(p *prefetched) bool {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	if lead := pf.flights[p.fk]; lead != nil {
		lead.followers = append(lead.followers, p)
		return true
	}
	pf.flights[p.fk] = p
	return false
}

// land ends p's flight and returns its followers.
func (pf *prefetcher) land(p *prefetched) []*prefetched {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	if pf.flights[p.fk] == p {
		delete(pf.flights, p.fk)
	}
	fs := p.followers
	p.followers = nil
	return fs
}

// handOff gives p and its followers to workers, which ask from scratch.
func (s *udpBatchServer) handOff(p *prefetched) {
	s.dispatch(p.slowJob)
	for _, f := range s.pf.land(p) {
		s.dispatch(f.slowJob)
	}
}

// prefetch sends j's query upstream through the socket to its upstream,
// or makes it follow the same query sent already, if Options.Prefetch
// lets it, and reports whether it did.
func (bc *batchConn) prefetch(j slowJob, i int) bool {
	pf := bc.h.opt.Prefetch
	// The chain's form of the query: its name in lower case.
	bc.pfMsg = *j.req
	bc.pfQ[0] = j.req.Question[0]
	bc.pfQ[0].Name = strings.ToLower(bc.pfQ[0].Name)
	bc.pfMsg.Question = bc.pfQ[:]
	bc.pfQuery = resolver.Query{Msg: &bc.pfMsg, Client: j.ap.Addr().Unmap(), Proto: resolver.UDP}
	id := uint16(rand.Uint32())
	wire, to, name, ok := pf(&bc.pfQuery, id, bc.pfBuf[:])
	bc.pfQuery, bc.pfMsg = resolver.Query{}, dns.Msg{}
	if !ok || len(wire) > len(bc.pfBuf) {
		return false
	}
	p := &prefetched{slowJob: j, to: bc.in.sockaddr(i), deadline: j.start.Add(bc.h.opt.PrefetchWait),
		fk: flight{name: bc.pfQ[0].Name, qtype: bc.pfQ[0].Qtype, qclass: bc.pfQ[0].Qclass, to: to}}
	if j.req.CheckingDisabled {
		p.fk.bits |= 1
	}
	if j.req.AuthenticatedData {
		p.fk.bits |= 2
	}
	if o := j.req.IsEdns0(); o != nil && o.Do() {
		p.fk.bits |= 4
	}
	if bc.s.pf.join(p) {
		return true
	}
	u := bc.upSock(to, name, j.start)
	if u == nil {
		for _, f := range bc.s.pf.land(p) {
			bc.s.dispatch(f.slowJob)
		}
		return false
	}
	u.mu.Lock()
	for u.pend[id] != nil {
		id++ // taken: the next one is as unpredictable
	}
	u.pend[id] = p
	u.mu.Unlock()
	binary.BigEndian.PutUint16(wire, id)
	if u.out.n == 0 {
		bc.dirty = append(bc.dirty, u)
	}
	n := copy(u.out.next(), wire)
	u.out.queueConnected(n)
	u.sent++
	if u.out.full() {
		u.flush()
	}
	return true
}

// flushUp writes the queries queued on the reader's upstream sockets.
func (bc *batchConn) flushUp() {
	for _, u := range bc.dirty {
		u.flush()
	}
	clear(bc.dirty)
	bc.dirty = bc.dirty[:0]
}

// read is the socket's reader: it settles each answer and writes the
// replies in a batch, until the socket is closed.
func (u *upSock) read() {
	defer u.bc.s.wg.Done()
	for {
		n, err := u.in.recv(u.rc)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				upBufs.Put(&[2]*mmsgs{u.in, u.ans})
				return
			}
			// ECONNREFUSED from an ICMP error, say: the queries it
			// concerns go through the chain once their wait is over.
			if n == 0 {
				continue
			}
		}
		for i := range n {
			if u.in.truncated(i) {
				u.cutShort(u.in.packet(i))
				continue
			}
			u.answer(u.in.packet(i))
			if u.ans.full() {
				u.reply()
			}
		}
		u.reply()
	}
}

// answer settles the query w answers, if w is the answer to a query
// waiting on u. Anything else is dropped, as a spoofer's or a late answer
// is; the query still waits for its own.
func (u *upSock) answer(w []byte) {
	id, p := u.waiting(w)
	if p == nil {
		return
	}
	m := new(dns.Msg)
	if m.Unpack(w) != nil || !m.Response || len(m.Question) != 1 {
		return
	}
	want, got := p.req.Question[0], m.Question[0]
	if got.Qtype != want.Qtype || got.Qclass != want.Qclass || !strings.EqualFold(got.Name, want.Name) {
		return
	}
	if !u.take(id, p) {
		return
	}
	if m.Truncated || (m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError) {
		// TCP, or another upstream: the chain's to try.
		u.bc.s.handOff(p)
		return
	}
	fs := u.bc.s.pf.land(p)
	ms := make([]*dns.Msg, len(fs))
	for i := range fs {
		ms[i] = m.Copy() // each chain changes its answer in place
	}
	u.settle(p, m)
	for i, f := range fs {
		if u.ans.full() {
			u.reply()
		}
		u.settle(f, ms[i])
	}
}

// cutShort hands the query an answer too large to read whole answers to
// a worker, which asks again (over TCP if need be).
func (u *upSock) cutShort(w []byte) {
	if id, p := u.waiting(w); p != nil && u.take(id, p) {
		u.bc.s.handOff(p)
	}
}

// waiting returns the query waiting on u under w's ID, if any.
func (u *upSock) waiting(w []byte) (uint16, *prefetched) {
	if len(w) < headerLen {
		return 0, nil
	}
	id := binary.BigEndian.Uint16(w)
	u.mu.Lock()
	defer u.mu.Unlock()
	return id, u.pend[id]
}

// take stops p waiting under id, and reports whether it still was: an
// answer and the sweeper may race for it.
func (u *upSock) take(id uint16, p *prefetched) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.pend[id] != p {
		return false
	}
	delete(u.pend, id)
	u.closeIfDoneLocked()
	return true
}

// settle runs the chain on p's query with its answer m in hand, and
// queues the reply.
func (u *upSock) settle(p *prefetched, m *dns.Msg) {
	bc, h := u.bc, u.bc.h
	client := p.ap.Addr().Unmap()
	p.pre = resolver.Prefetched{Msg: m, Upstream: u.name, RTT: time.Since(p.start)}
	p.q = resolver.Query{Msg: p.req, Client: client, Proto: resolver.UDP, Prefetched: &p.pre}
	q := &p.q
	resp := h.answer(q)
	q.Prefetched, p.pre.Msg = nil, nil
	p.rcode = resp.Rcode
	if p.pre.Refused {
		bc.s.handOff(p)
		return
	}
	resp.Truncate(limitForAmplification(client, udpSize(p.req, h.opt.UDPSize)))
	buf := u.ans.next()
	wire, err := resp.PackBuffer(buf)
	if err != nil || len(wire) > len(buf) || &wire[0] != &buf[0] {
		// As alone: nothing is sent, the query is still observed.
		h.log.Debug("write answer", "client", client, "err", err)
		u.done = append(u.done, p)
		return
	}
	u.ans.queueTo(len(wire), &p.to, p.oob)
	if p.k != nil {
		h.keep(p.k, wire, q, resp.Rcode, p.now)
	}
	u.done = append(u.done, p)
}

// reply writes the queued replies on the reader's client socket, then
// observes them.
func (u *upSock) reply() {
	h := u.bc.h
	if u.ans.n > 0 {
		if err := u.ans.send(u.bc.rc); err != nil {
			h.log.Debug("write answers", "addr", u.bc.c.LocalAddr().String(), "err", err)
		}
	}
	for _, p := range u.done {
		h.inflight.release(p.q.Client)
		if h.opt.Observe != nil {
			h.opt.Observe(&p.q, p.rcode, time.Since(p.start))
		}
	}
	clear(u.done)
	u.done = u.done[:0]
}
