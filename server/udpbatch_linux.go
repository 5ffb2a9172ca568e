package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Sizes and times of the batched UDP listener.
const (
	// udpBatch is how many packets one recvmmsg or sendmmsg moves.
	udpBatch = 64
	// udpReaders read each socket, in turn; while some are waiting for an
	// upstream the others go on.
	udpReaders = 4
	// stallAfter is how long a socket's reader may be in one query before
	// another goroutine takes over its batch and its socket; stallTick is
	// how often that is checked.
	stallAfter = time.Millisecond
	stallTick  = time.Millisecond
)

// batchSupported reports whether Options.BatchUDP can be honoured here.
const batchSupported = true

// batchRW is what ipv4.PacketConn and ipv6.PacketConn share: recvmmsg and
// sendmmsg on Linux.
type batchRW interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// udpBatchServer serves one UDP listen address on several SO_REUSEPORT
// sockets.
//
// Each socket has udpReaders readers, taking turns at it; each reads a
// batch, answers its queries one after another in its own goroutine (a
// cached answer takes a microsecond; handing each query to another
// goroutine costs more than that) and writes the answers in one batch. A
// query that waits for an upstream must not hold up the others: when a
// reader has been in one query for stallAfter, the watchdog makes a new
// goroutine the reader, which gives each query left in the batch a
// goroutine and goes on reading; the old one writes its one answer when it
// comes and ends. So a slow query costs a goroutine, as with miekg/dns, and
// the in-flight caps bound those.
type udpBatchServer struct {
	conns []*batchConn
	wg    sync.WaitGroup // every reader, past and present
	stop  chan struct{}  // ends the watchdog
	dog   sync.WaitGroup
	epoch time.Time
}

// batchConn is one socket of a udpBatchServer.
type batchConn struct {
	s        *udpBatchServer
	h        *handler
	c        *net.UDPConn
	rw       batchRW
	wildcard bool // bound to 0.0.0.0 or ::: answers need their source set
	pool     sync.Pool
	stopping atomic.Bool
	slots    []*readSlot
}

// readSlot is one of a socket's readers: whoever holds it, its batch, and
// since when it has been in a query.
type readSlot struct {
	mu    sync.Mutex
	owner uint64 // generation of the reader
	since int64  // when the reader entered its query (ns from epoch); 0 when it is in none
	st    *batchState
}

// batchState is a reader's batch: the packets read, the next to answer,
// and the answers to write. It passes from a stalled reader to its
// successor whole.
type batchState struct {
	in      []ipv4.Message
	out     []ipv4.Message
	reps    []*udpReply
	next, n int
	start   time.Time
}

// startUDPBatch serves conns, which share one address.
func startUDPBatch(h *handler, conns []*net.UDPConn) (*udpBatchServer, error) {
	s := &udpBatchServer{stop: make(chan struct{}), epoch: time.Now()}
	size := int(h.opt.UDPSize) // as miekg/dns reads
	for _, c := range conns {
		bc := &batchConn{s: s, h: h, c: c}
		la := c.LocalAddr().(*net.UDPAddr)
		if la.IP.To4() != nil {
			bc.rw = ipv4.NewPacketConn(c)
		} else {
			bc.rw = ipv6.NewPacketConn(c)
		}
		if la.IP.IsUnspecified() {
			// As miekg/dns: learn each query's destination, so that the
			// answer leaves from the address the client asked.
			bc.wildcard = true
			err6 := ipv6.NewPacketConn(c).SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true)
			err4 := ipv4.NewPacketConn(c).SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
			if err6 != nil && err4 != nil {
				return nil, fmt.Errorf("server: udp control messages: %w", err4)
			}
		}
		bc.pool.New = func() any { b := make([]byte, size); return &b }
		for range udpReaders {
			st := &batchState{in: make([]ipv4.Message, udpBatch), out: make([]ipv4.Message, udpBatch)}
			oobSize := udpOOBSize()
			for i := range st.in {
				st.in[i].Buffers = [][]byte{make([]byte, size)}
				if bc.wildcard {
					st.in[i].OOB = make([]byte, oobSize)
				}
			}
			bc.slots = append(bc.slots, &readSlot{st: st})
		}
		s.conns = append(s.conns, bc)
	}
	for _, bc := range s.conns {
		for _, sl := range bc.slots {
			s.wg.Add(1)
			go func() { defer s.wg.Done(); bc.read(sl, 0) }()
		}
	}
	s.dog.Add(1)
	go func() { defer s.dog.Done(); s.watch() }()
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
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	close(s.stop)
	s.dog.Wait()
	for _, bc := range s.conns {
		bc.c.Close()
	}
	return err
}

// watch is the watchdog: it replaces each reader stalled in a query.
func (s *udpBatchServer) watch() {
	t := time.NewTicker(stallTick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		now := int64(time.Since(s.epoch))
		for _, bc := range s.conns {
			for _, sl := range bc.slots {
				sl.mu.Lock()
				if sl.since != 0 && now-sl.since >= int64(stallAfter) {
					sl.owner++
					sl.since = 0
					gen := sl.owner
					s.wg.Add(1) // the stalled reader is still counted
					go func() { defer s.wg.Done(); bc.read(sl, gen) }()
				}
				sl.mu.Unlock()
			}
		}
	}
}

// read is the reader of generation gen of slot sl: it answers what is
// left of the batch, writes the answers, reads the next batch, and so on,
// until the server stops or the watchdog replaces it. A reader that takes
// over from a stalled one (gen > 0) gives each query left in that batch a
// goroutine of its own: they came together, and are likely as slow.
func (bc *batchConn) read(sl *readSlot, gen uint64) {
	st := sl.st
	var delay time.Duration
	if gen > 0 {
		for st.next < st.n {
			if req, addr, oob := bc.take(st); req != nil {
				start := st.start
				bc.s.wg.Add(1)
				go func() {
					defer bc.s.wg.Done()
					bc.alone(req, addr, oob, start)
				}()
			}
		}
	}
	for {
		if st.next >= st.n {
			bc.flush(st)
			n, err := bc.rw.ReadBatch(st.in, 0)
			if err != nil {
				st.n, st.next = 0, 0
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
			st.n, st.next, st.start = n, 0, time.Now()
		}
		req, addr, oob := bc.take(st)
		if req == nil {
			continue
		}
		// From here st may pass to another reader: only locals are used.
		start := st.start
		sl.mu.Lock()
		sl.since = max(int64(time.Since(bc.s.epoch)), 1)
		sl.mu.Unlock()
		buf := bc.pool.Get().(*[]byte)
		rep := bc.h.udpAnswer(req, addr, start, buf)
		sl.mu.Lock()
		replaced := sl.owner != gen
		if !replaced {
			sl.since = 0
		}
		sl.mu.Unlock()
		if rep == nil || rep.wire == nil {
			bc.pool.Put(buf)
			if rep != nil {
				bc.h.done(rep)
			}
			if replaced {
				return
			}
			continue
		}
		rep.oob = oob
		if replaced {
			// st is the new reader's now.
			bc.send([]*udpReply{rep}, make([]ipv4.Message, 1))
			return
		}
		st.reps = append(st.reps, rep)
	}
}

// take checks the batch's next packet. It returns the query to answer, or
// nil after queueing the answer to a rejected packet, or for a packet that
// gets none.
func (bc *batchConn) take(st *batchState) (req *dns.Msg, addr net.Addr, oob []byte) {
	m := &st.in[st.next]
	st.next++
	if bc.wildcard {
		oob = correctSource(m.OOB[:m.NN])
	}
	req, reject := acceptUDP(m.Buffers[0][:m.N])
	if reject != nil {
		if out, err := reject.Pack(); err == nil {
			st.reps = append(st.reps, &udpReply{wire: out, addr: m.Addr, oob: oob})
		}
		return nil, nil, nil
	}
	return req, m.Addr, oob
}

// alone answers one query in its own goroutine and writes its answer.
func (bc *batchConn) alone(req *dns.Msg, addr net.Addr, oob []byte, start time.Time) {
	buf := bc.pool.Get().(*[]byte)
	rep := bc.h.udpAnswer(req, addr, start, buf)
	switch {
	case rep == nil:
		bc.pool.Put(buf)
	case rep.wire == nil:
		bc.pool.Put(buf)
		bc.h.done(rep)
	default:
		rep.oob = oob
		bc.send([]*udpReply{rep}, make([]ipv4.Message, 1))
	}
}

// flush writes the batch's answers.
func (bc *batchConn) flush(st *batchState) {
	if len(st.reps) == 0 {
		return
	}
	bc.send(st.reps, st.out)
	clear(st.reps)
	st.reps = st.reps[:0]
}

// send writes reps, several per sendmmsg, using ms, then gives back their
// buffers and in-flight places and observes them.
func (bc *batchConn) send(reps []*udpReply, ms []ipv4.Message) {
	for len(reps) > 0 {
		k := min(len(reps), len(ms))
		for i, r := range reps[:k] {
			ms[i] = ipv4.Message{Buffers: [][]byte{r.wire}, Addr: r.addr, OOB: r.oob}
		}
		bc.write(ms[:k], reps[:k])
		for i, r := range reps[:k] {
			if r.buf != nil {
				bc.pool.Put(r.buf)
			}
			bc.h.done(r)
			ms[i] = ipv4.Message{}
		}
		reps = reps[k:]
	}
}

// write sends ms; a message the kernel refuses (an unreachable client, say)
// is logged and skipped.
func (bc *batchConn) write(ms []ipv4.Message, reps []*udpReply) {
	for len(ms) > 0 {
		n, err := bc.rw.WriteBatch(ms, 0)
		if err != nil {
			bc.h.log.Debug("write answer", "client", clientAddr(reps[0].addr), "err", err)
			n = 1
		}
		n = max(n, 1) // never spin on a batch the kernel took none of
		ms, reps = ms[n:], reps[n:]
	}
}

// sockets is how many sockets serve the address.
func (s *udpBatchServer) sockets() int { return len(s.conns) }
