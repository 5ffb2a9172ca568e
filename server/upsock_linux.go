package server

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"
)

// The upstream sockets of prefetching (prefetch_linux.go): how a reader
// opens them, rotates them and closes them, and how the queries waiting on
// them end when no answer comes.

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
	mu      sync.Mutex
	socks   map[*upSock]struct{}
	flights map[flight]*prefetched // the queries sent, by what they ask
	done    chan struct{}
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

// expire hands the queries whose wait ended before now to workers, and
// reports whether any query is still waiting.
func (s *udpBatchServer) expire(now time.Time) bool {
	var late []*prefetched
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
				late = append(late, p)
			}
		}
		waiting = waiting || len(u.pend) > 0
		u.closeIfDoneLocked()
		u.mu.Unlock()
	}
	for _, p := range late {
		s.handOff(p)
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
