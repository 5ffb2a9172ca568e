package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/havendns/haven/server/access"
	"github.com/havendns/haven/server/wirecache"
	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// udpBatch is how many datagrams one recvmmsg or sendmmsg moves.
const udpBatch = 64

// batchSupported reports whether Options.BatchUDP can be honoured here.
const batchSupported = true

// udpBatchServer serves one UDP listen address on several SO_REUSEPORT
// sockets, one reader each.
//
// A reader takes up to udpBatch queries with one recvmmsg and answers in
// its own goroutine, without waiting, what can be answered without
// waiting: replays from the fast path (wirecache), refusals, rejections;
// it writes those answers with one sendmmsg. Every other query goes to a
// worker goroutine of its own (an idle one, or a new one), as with
// miekg/dns, which runs the chain and writes its answer alone; the
// in-flight caps bound the workers busy at once. So a reader never waits
// on an upstream, and a cached answer costs no goroutine, no unpacking
// and, with the fast path, no allocation.
type udpBatchServer struct {
	conns   []*batchConn
	readers sync.WaitGroup // the sockets' readers
	wg      sync.WaitGroup // workers, and prefetching's goroutines
	pf      *prefetcher    // nil without Options.Prefetch
	// work hands a query to an idle worker. Workers outlive their query
	// (for workerIdle) so that their stacks, grown by the chain, are
	// reused: a goroutine per query spent a tenth of the miss path's CPU
	// growing its stack. Unbuffered: a query never waits behind another.
	work chan slowJob
	stop chan struct{} // ends the idle workers
	// idle counts the workers waiting for a query. Up to maxIdle of them
	// wait workerIdle for the next one, the others burstIdle: under load
	// each is handed another query within microseconds, and after a burst
	// few are left for long.
	idle    atomic.Int64
	maxIdle int64
}

// batchConn is one socket of a udpBatchServer and its reader's state.
type batchConn struct {
	s        *udpBatchServer
	h        *handler
	c        *net.UDPConn
	rc       syscall.RawConn
	stopping atomic.Bool

	in, out *mmsgs
	pending []queued // what to do once each answer in out is written
	fq      fastQuery
	key     wirecache.Key
	// A replayed answer's query, as Observe sees it.
	scratch    resolver.Query
	scratchMsg dns.Msg
	bufs       sync.Pool // *[]byte for the answers of handed-off queries

	// Prefetching (prefetch_linux.go): the upstream sockets, those with
	// queries queued, and the scratch of Options.Prefetch.
	ups     map[netip.AddrPort]*upSock
	dirty   []*upSock
	pfMsg   dns.Msg
	pfQ     [1]dns.Question
	pfQuery resolver.Query
	pfBuf   [maxQuerySize]byte
}

// queued is an answer in a reader's out batch: what to observe once it is
// written.
type queued struct {
	meta   *fastMeta       // a replayed answer
	name   string          // its question name
	q      *resolver.Query // a refusal; nil with meta nil: not observed
	rcode  int
	client netip.Addr
}

// startUDPBatch serves conns, which share one address.
func startUDPBatch(h *handler, conns []*net.UDPConn) (*udpBatchServer, error) {
	s := &udpBatchServer{work: make(chan slowJob), stop: make(chan struct{}),
		maxIdle: int64(idlePerCPU * runtime.GOMAXPROCS(0))}
	size := int(h.opt.UDPSize) // as miekg/dns reads
	for _, c := range conns {
		rc, err := c.SyscallConn()
		if err != nil {
			return nil, fmt.Errorf("server: udp socket: %w", err)
		}
		bc := &batchConn{s: s, h: h, c: c, rc: rc, pending: make([]queued, 0, udpBatch)}
		bc.scratchMsg.Question = make([]dns.Question, 1)
		oobSize := 0
		if c.LocalAddr().(*net.UDPAddr).IP.IsUnspecified() {
			// As miekg/dns: learn each query's destination, so that the
			// answer leaves from the address the client asked.
			err6 := ipv6.NewPacketConn(c).SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true)
			err4 := ipv4.NewPacketConn(c).SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
			if err6 != nil && err4 != nil {
				return nil, fmt.Errorf("server: udp control messages: %w", err4)
			}
			oobSize = udpOOBSize()
		}
		bc.in = newMmsgs(udpBatch, size, oobSize)
		bc.out = newMmsgs(udpBatch, size, oobSize)
		bc.bufs.New = func() any { b := make([]byte, size); return &b }
		if h.opt.Prefetch != nil && h.fast != nil {
			bc.ups = make(map[netip.AddrPort]*upSock)
		}
		s.conns = append(s.conns, bc)
	}
	if h.opt.Prefetch != nil && h.fast != nil {
		s.pf = &prefetcher{socks: make(map[*upSock]struct{}), flights: make(map[flight]*prefetched),
			done: make(chan struct{})}
		s.wg.Add(1)
		go s.sweep()
	}
	for _, bc := range s.conns {
		s.readers.Add(1)
		go bc.serve()
	}
	return s, nil
}

// shutdown stops reading, lets the queries being answered be written until
// ctx ends, and closes the sockets.
func (s *udpBatchServer) shutdown(ctx context.Context) error {
	for _, bc := range s.conns {
		bc.stopping.Store(true)
		// Unblocks the reader, as miekg/dns does; the socket stays open
		// for the answers still to come.
		_ = bc.c.SetReadDeadline(time.Unix(1, 0))
	}
	done := make(chan struct{})
	go func() {
		// The readers first: a reader still reading could send a query
		// upstream after the prefetched ones were drained.
		s.readers.Wait()
		s.drain(ctx)
		close(s.stop)
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	for _, bc := range s.conns {
		bc.c.Close()
	}
	return err
}

// sockets is how many sockets serve the address.
func (s *udpBatchServer) sockets() int { return len(s.conns) }

// serve is the socket's reader.
func (bc *batchConn) serve() {
	defer bc.s.readers.Done()
	var delay time.Duration
	for {
		n, err := bc.in.recv(bc.rc)
		if err != nil {
			if bc.stopping.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient error (ENOMEM, say): do not spin on it.
			delay = min(max(2*delay, time.Millisecond), 100*time.Millisecond)
			bc.h.log.Warn("udp read", "addr", bc.c.LocalAddr().String(), "err", err, "retry", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		// now is the chain's clock, for the fast path's ages; start times
		// the answers.
		start, now := time.Now(), bc.h.opt.Now()
		for i := range n {
			bc.one(i, start, now)
			if bc.out.full() {
				bc.flush(start)
			}
		}
		bc.flush(start)
		bc.flushUp()
	}
}

// one answers datagram i of the batch, or hands it off.
func (bc *batchConn) one(i int, start, now time.Time) {
	h := bc.h
	pkt := bc.in.packet(i)
	ap := bc.in.addrPort(i)
	client := ap.Addr().Unmap()
	fast := h.fast != nil && parseFast(pkt, &bc.fq)
	var req *dns.Msg
	if !fast {
		if req = bc.accept(i); req == nil {
			return
		}
	}
	switch h.check(client) {
	case access.Drop:
		return
	case access.Refuse:
		if req == nil {
			if req = bc.accept(i); req == nil {
				return
			}
		}
		q := &resolver.Query{Msg: req, Client: client, Proto: resolver.UDP}
		bc.queueMsg(h.refusal(req), i, queued{q: q, client: client})
		return
	}
	if fast && bc.replay(i, client, now) {
		return
	}
	if req == nil {
		if req = bc.accept(i); req == nil {
			return
		}
	}
	if !h.inflight.acquire(client) {
		q := &resolver.Query{Msg: req, Client: client, Proto: resolver.UDP}
		bc.queueMsg(h.busy(req), i, queued{q: q, client: client})
		return
	}
	var k *wirecache.Key
	if fast && bc.key.Subject != "" {
		k = &wirecache.Key{Subject: bc.key.Subject, Version: bc.key.Version,
			Name: append([]byte(nil), bc.key.Name...), Type: bc.key.Type, Flags: bc.key.Flags}
	}
	var oob []byte
	if c := bc.in.oob(i); len(c) > 0 {
		oob = make([]byte, udpOOBSize())
		oob = oob[:answerControl(oob, c)]
	}
	j := slowJob{bc: bc, req: req, ap: ap, oob: oob, k: k, start: start, now: now}
	if k != nil && bc.ups != nil && bc.prefetch(j, i) {
		return
	}
	bc.s.dispatch(j)
}

// accept checks datagram i as miekg/dns would, queueing the answer to a
// packet it rejects. It returns the query, or nil.
func (bc *batchConn) accept(i int) *dns.Msg {
	req, reject := acceptUDP(bc.in.packet(i))
	if reject != nil {
		bc.queueMsg(reject, i, queued{})
	}
	return req
}

// replay answers datagram i from the fast path, if it can.
func (bc *batchConn) replay(i int, client netip.Addr, now time.Time) bool {
	h, k, f := bc.h, &bc.key, &bc.fq
	k.Subject, k.Version = h.opt.Subject(client)
	if k.Subject == "" {
		return false // not for now
	}
	k.Name, k.Type, k.Flags = f.lowerName(), f.qtype, f.flags
	limit := limitForAmplification(client, min(f.size, int(h.opt.UDPSize)))
	n, name, meta, ok := h.fast.Answer(bc.out.next(), k, f.id, f.asked, now, limit)
	if !ok {
		return false
	}
	bc.out.queue(n, bc.in, i)
	bc.pending = append(bc.pending, queued{meta: meta, name: name, rcode: int(meta.rcode), client: client})
	return true
}

// queueMsg packs m as the answer to datagram i.
func (bc *batchConn) queueMsg(m *dns.Msg, i int, what queued) {
	buf := bc.out.next()
	w, err := m.PackBuffer(buf)
	if err != nil || len(w) > len(buf) {
		bc.h.log.Debug("write answer", "client", what.client, "err", err)
		return
	}
	if &w[0] != &buf[0] {
		copy(buf, w)
	}
	what.rcode = m.Rcode
	bc.out.queue(len(w), bc.in, i)
	bc.pending = append(bc.pending, what)
}

// flush writes the queued answers, then observes them.
func (bc *batchConn) flush(start time.Time) {
	if bc.out.n == 0 {
		return
	}
	if err := bc.out.send(bc.rc); err != nil {
		bc.h.log.Debug("write answers", "addr", bc.c.LocalAddr().String(), "err", err)
	}
	if obs := bc.h.opt.Observe; obs != nil {
		d := time.Since(start)
		for _, p := range bc.pending {
			switch {
			case p.meta != nil:
				bc.scratchMsg.Question[0] = dns.Question{Name: p.name, Qtype: p.meta.qtype, Qclass: dns.ClassINET}
				bc.scratch = resolver.Query{Msg: &bc.scratchMsg, Client: p.client, Proto: resolver.UDP, Trace: *p.meta.trace}
				obs(&bc.scratch, p.rcode, d)
			case p.q != nil:
				obs(p.q, p.rcode, d)
			}
		}
	}
	clear(bc.pending)
	bc.pending = bc.pending[:0]
}
