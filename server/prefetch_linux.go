package server

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
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

// Like the upstream package's sockets (resolver/upstream/udppool.go), an
// upstream socket takes a new random source port after prefetchRotate
// queries or prefetchMaxAge, so that an off-path spoofer has the port to
// guess as well as the 16-bit ID.
const (
	prefetchRotate = 1024
	prefetchMaxAge = 10 * time.Second
)

// prefetcher is a udpBatchServer's prefetching: every upstream socket its
// readers opened, for the sweeper that ends their waits.
type prefetcher struct {
	mu    sync.Mutex
	socks map[*upSock]struct{}
	done  chan struct{}
}

// upSock is one connected UDP socket a batched reader sends queries on.
type upSock struct {
	bc     *batchConn
	name   string // the upstream's, for Trace.Upstream
	c      *net.UDPConn
	rc     syscall.RawConn
	opened time.Time
	sent   int           // queries queued, by bc's reader only
	out    *mmsgs        // queries to send, bc's reader's
	in     *mmsgs        // answers read, the socket reader's
	ans    *mmsgs        // replies to write, the socket reader's
	done   []*prefetched // replies queued in ans, to observe once written

	mu      sync.Mutex
	pend    map[uint16]*prefetched // by upstream ID
	retired bool                   // no more queries: closed once pend is empty
	closed  bool
}

// prefetched is a query sent upstream by a reader, waiting for its answer.
type prefetched struct {
	slowJob
	to       sockaddr
	deadline time.Time
	// Once answered: the chain's query, to observe, and its answer's
	// rcode; in one allocation with the rest.
	q     resolver.Query
	pre   resolver.Prefetched
	rcode int
}

// prefetch sends j's query upstream through the socket to its upstream,
// if Options.Prefetch lets it, and reports whether it did.
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
	u := bc.upSock(to, name, j.start)
	if u == nil {
		return false
	}
	p := &prefetched{slowJob: j, to: bc.in.sockaddr(i), deadline: j.start.Add(bc.h.opt.PrefetchWait)}
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

// upSock returns the reader's socket to the upstream at to, opening one
// if there is none yet or the last has served its time. It returns nil if
// no socket can be opened.
func (bc *batchConn) upSock(to netip.AddrPort, name string, now time.Time) *upSock {
	u := bc.ups[to]
	if u != nil && u.name == name && u.sent < prefetchRotate && now.Sub(u.opened) < prefetchMaxAge {
		return u
	}
	var out *mmsgs
	for a, old := range bc.ups {
		// This one, and any other past its time: an upstream a reload
		// replaced keeps no socket.
		if a == to || now.Sub(old.opened) >= prefetchMaxAge {
			old.flush()
			old.retire()
			delete(bc.ups, a)
			bc.dirty = slices.DeleteFunc(bc.dirty, func(d *upSock) bool { return d == old })
			out, old.out = old.out, nil // written: the new socket's now
		}
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
	if err != nil {
		bc.h.log.Debug("prefetch socket", "upstream", name, "err", err)
		return nil
	}
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil
	}
	if out == nil {
		out = newMmsgs(udpBatch, maxQuerySize, 0)
	}
	u = &upSock{bc: bc, name: name, c: c, rc: rc, opened: now, out: out, pend: make(map[uint16]*prefetched)}
	u.in, u.ans = readBufs(int(bc.h.opt.UDPSize))
	pf := bc.s.pf
	pf.mu.Lock()
	pf.socks[u] = struct{}{}
	pf.mu.Unlock()
	bc.ups[to] = u
	bc.s.wg.Add(1)
	go u.read()
	return u
}

// Sizes of a prefetched query (the client's question and an OPT) and of
// the largest answer taken from an upstream: Haven advertises 1232 bytes,
// but some upstreams send more. A larger one is cut short, and its query
// goes to a worker.
const (
	maxQuerySize       = 512
	upstreamAnswerSize = 4096
)

// upBufs keeps the read buffers of closed upstream sockets (a *[2]*mmsgs,
// answers and replies) for the next socket: 300 KB or so, taken again
// every prefetchRotate queries.
var upBufs sync.Pool

// readBufs returns the buffers of an upstream socket's reader, for
// replies of up to size bytes.
func readBufs(size int) (in, ans *mmsgs) {
	if b, ok := upBufs.Get().(*[2]*mmsgs); ok && len(b[1].bufs[0]) == size {
		return b[0], b[1]
	}
	return newMmsgs(udpBatch, upstreamAnswerSize, 0), newMmsgs(udpBatch, size, udpOOBSize())
}

// flushUp writes the queries queued on the reader's upstream sockets.
func (bc *batchConn) flushUp() {
	for _, u := range bc.dirty {
		u.flush()
	}
	clear(bc.dirty)
	bc.dirty = bc.dirty[:0]
}

// flush writes u's queued queries. One that cannot be written is left to
// wait for Options.PrefetchWait, then asked again through the chain.
func (u *upSock) flush() {
	if u.out.n == 0 {
		return
	}
	if err := u.out.send(u.rc); err != nil {
		u.bc.h.log.Debug("prefetch write", "upstream", u.name, "err", err)
	}
}

// retire takes no more queries on u; it is closed once its last is
// answered or handed over.
func (u *upSock) retire() {
	u.mu.Lock()
	u.retired = true
	u.closeIfDoneLocked()
	u.mu.Unlock()
}

func (u *upSock) closeIfDoneLocked() {
	if !u.retired || len(u.pend) > 0 || u.closed {
		return
	}
	u.closed = true
	u.c.Close()
	pf := u.bc.s.pf
	pf.mu.Lock()
	delete(pf.socks, u)
	pf.mu.Unlock()
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
		u.bc.s.dispatch(p.slowJob)
		return
	}
	u.settle(p, m)
}

// cutShort hands the query an answer too large to read whole answers to
// a worker, which asks again (over TCP if need be).
func (u *upSock) cutShort(w []byte) {
	if id, p := u.waiting(w); p != nil && u.take(id, p) {
		u.bc.s.dispatch(p.slowJob)
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
		bc.s.dispatch(p.slowJob)
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

// sweep hands the queries that have waited Options.PrefetchWait to
// workers, checking prefetchTicks times per wait, until done is closed.
func (s *udpBatchServer) sweep() {
	defer s.wg.Done()
	t := time.NewTicker(s.conns[0].h.opt.PrefetchWait / prefetchTicks)
	defer t.Stop()
	for {
		select {
		case <-s.pf.done:
			return
		case now := <-t.C:
			s.expire(now)
		}
	}
}

// expire hands the queries whose wait ended before now to workers, and reports whether any query is still waiting.
func (s *udpBatchServer) expire(now time.Time) bool {
	var late []slowJob
	waiting := false
	s.pf.mu.Lock()
	socks := make([]*upSock, 0, len(s.pf.socks))
	for u := range s.pf.socks {
		socks = append(socks, u)
	}
	s.pf.mu.Unlock()
	for _, u := range socks {
		u.mu.Lock()
		for id, p := range u.pend {
			if now.After(p.deadline) {
				delete(u.pend, id)
				late = append(late, p.slowJob)
			}
		}
		waiting = waiting || len(u.pend) > 0
		u.closeIfDoneLocked()
		u.mu.Unlock()
	}
	for _, j := range late {
		s.dispatch(j)
	}
	return waiting
}

// drain waits until no prefetched query waits, or ctx ends, then closes
// the upstream sockets and stops the sweeper.
func (s *udpBatchServer) drain(ctx context.Context) {
	if s.pf == nil {
		return
	}
	for s.expire(time.Now()) {
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
			continue
		}
		break
	}
	close(s.pf.done)
	s.pf.mu.Lock()
	for u := range s.pf.socks {
		u.mu.Lock()
		u.retired, u.closed = true, true
		u.c.Close()
		u.mu.Unlock()
	}
	clear(s.pf.socks)
	s.pf.mu.Unlock()
}
