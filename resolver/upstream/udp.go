package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// addrPort parses addr if it is an IP address and port.
func addrPort(addr string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// maxUDPQuery is the largest query that fits in one UDP datagram over IPv4.
const maxUDPQuery = 65507

// udpUpstream sends queries over a small pool of connected UDP sockets
// shared by concurrent queries (udpPool), and asks again over TCP when an
// answer is truncated.
type udpUpstream struct {
	name    string
	addr    netip.AddrPort // invalid if Addr is a host name
	timeout time.Duration
	pool    *udpPool
	tcp     *streamUpstream // for truncated answers
	waiters sync.Pool       // *udpWaiter
}

func newUDP(name string, opt Options) *udpUpstream {
	u := &udpUpstream{
		name:    name,
		timeout: opt.Timeout,
		pool:    newUDPPool(opt.Addr),
		addr:    addrPort(opt.Addr),
		tcp:     newStream(name, opt, nil),
	}
	u.waiters.New = func() any { return newUDPWaiter() }
	return u
}

func (u *udpUpstream) String() string { return u.name }

// Close closes the UDP sockets, failing the queries waiting on them, and
// the idle TCP connections. The upstream stays usable: a later query opens
// a fresh socket.
func (u *udpUpstream) Close() error {
	u.pool.Close()
	return u.tcp.Close()
}

func (u *udpUpstream) Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	return u.exchangeBy(ctx, m, time.Time{})
}

// exchangeBy is Exchange within the upstream's timeout and, if not zero,
// by (a Group's share of its time): deadliner.
func (u *udpUpstream) exchangeBy(ctx context.Context, m *dns.Msg, by time.Time) (*dns.Msg, error) {
	deadline := time.Now().Add(u.timeout)
	if !by.IsZero() && by.Before(deadline) {
		deadline = by
	}
	r, err := u.exchange(ctx, m, deadline)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u.name, err)
	}
	if !r.Truncated {
		return r, nil
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	r, err = u.tcp.exchange(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("%s: TCP retry of truncated answer: %w", u.name, err)
	}
	return r, nil
}

// exchange sends m on a pooled socket under an ID of the socket's choosing
// and waits for the answer until deadline or ctx ends. The answer gets m's
// ID back.
func (u *udpUpstream) exchange(ctx context.Context, m *dns.Msg, deadline time.Time) (*dns.Msg, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := u.waiters.Get().(*udpWaiter)
	defer u.waiters.Put(w)
	if err := w.pack(m); err != nil {
		return nil, fmt.Errorf("pack query: %w", err)
	}
	s, err := u.pool.acquire(ctx)
	if err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("open socket: %w", err))
	}
	defer u.pool.release(s)
	if err := s.register(w); err != nil {
		return nil, err
	}
	if _, err := s.conn.Write(w.wire); err != nil {
		s.unregister(w, false)
		err = fmt.Errorf("write: %w", err)
		u.pool.kill(s, err)
		return nil, err
	}
	r, err := w.wait(ctx, s, m, deadline)
	if mismatch := s.unregister(w, err != nil); mismatch != nil && !errors.Is(err, ErrMismatch) {
		err = fmt.Errorf("%w, then %w", mismatch, err)
	}
	return r, err
}

// udpWaiter is one exchange in flight: its query on the wire and the slot
// the socket's reader hands the answer to. Waiters are pooled, buffer and
// timer with them, so an exchange allocates little more than its answer.
type udpWaiter struct {
	wire    []byte // the query as sent, with the socket's ID
	nameEnd int    // end of the question's name in wire; 0: match by ID only
	timer   *time.Timer
	ch      chan *dns.Msg // the answer, or nil: the socket failed (err)

	// Guarded by the socket's mutex while registered.
	id       uint16
	gen      uint64 // registrations so far, so the reader can tell a reuse
	armed    bool   // waiting for an answer
	rejected error  // why the reader rejected the last datagram for w
	err      error  // why the socket failed
	ignored  uint64 // the socket's count of ignored datagrams at registration
}

func newUDPWaiter() *udpWaiter {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &udpWaiter{wire: make([]byte, 512), timer: t, ch: make(chan *dns.Msg, 1)}
}

// pack packs m into the waiter's buffer and notes where its question's name
// ends, for the reader to match answers without unpacking them.
func (w *udpWaiter) pack(m *dns.Msg) error {
	wire, err := m.PackBuffer(w.wire[:cap(w.wire)])
	if err != nil {
		return err
	}
	if len(wire) > maxUDPQuery {
		return fmt.Errorf("%d bytes is too large", len(wire))
	}
	w.wire = wire
	w.nameEnd = 0
	if len(m.Question) == 1 {
		w.nameEnd = nameEnd(wire, dnsHeaderLen)
	}
	return nil
}

// wait waits for the answer to m, which the reader has unpacked and matched
// to the query (ID, question, response, opcode). check has the last word:
// were the reader's matching of the question on the wire to disagree with
// it, the datagram is rejected and the wait goes on.
func (w *udpWaiter) wait(ctx context.Context, s *udpSock, m *dns.Msg, deadline time.Time) (*dns.Msg, error) {
	// ctx's own deadline, when sooner, needs no timer of ours.
	var expired <-chan time.Time
	if d, ok := ctx.Deadline(); !ok || deadline.Before(d) {
		w.timer.Reset(time.Until(deadline))
		defer w.timer.Stop()
		expired = w.timer.C
	}
	var rejected error
	fail := func(err error) error {
		if rejected != nil {
			return fmt.Errorf("%w, then %w", rejected, err)
		}
		return err
	}
	for {
		select {
		case r := <-w.ch:
			if r == nil {
				return nil, fail(w.err)
			}
			// The socket's ID matched; the caller gets its own.
			r.Id = m.Id
			if rejected = check(m, r); rejected == nil {
				return r, nil
			}
			if err := s.rearm(w); err != nil {
				return nil, fail(err)
			}
		case <-ctx.Done():
			return nil, fail(ctx.Err())
		case <-expired:
			return nil, fail(context.DeadlineExceeded)
		}
	}
}
