package upstream

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Socket limits of the UDP pool: see README.md, "UDP sockets", for the
// trade-off between source-port randomisation and cost.
const (
	// udpSocketQueries is how many queries a socket carries before it is
	// retired and a fresh one, on a new random port, takes over.
	udpSocketQueries = 1024

	// udpSocketAge is how long a socket takes new queries, however few.
	udpSocketAge = 10 * time.Second

	// udpSpread is how many queries in flight on every pooled socket make
	// the pool open another one, while there are fewer than maxSockets.
	udpSpread = 8

	// udpMaxInflight bounds the queries in flight on one socket, so that a
	// spoofed datagram guessing an ID has at most this many chances in
	// 65536, and so that their answers coming at once fit in the socket's
	// receive buffer (net.core.rmem_default, 208 KiB, holds some 48
	// full-size datagrams). Past it (every pooled socket that busy), the
	// pool opens another socket, up to udpMaxPooled.
	udpMaxInflight = 32

	// udpMaxPooled bounds the pooled sockets, those opened past the
	// spread's because every one was full included: 2048 queries in flight
	// to one upstream. Past it a query gets a socket of its own, closed
	// after it, as before the pool. A burst of more queries in flight
	// than the spread's sockets hold (150 from one client, say) kept some
	// twenty such one-offs open at any time: a socket, connect, two epoll
	// registrations, a goroutine and a close for one query in twenty.
	udpMaxPooled = 64

	// udpReadBuffer is the receive buffer asked for; the kernel caps it at
	// net.core.rmem_max.
	udpReadBuffer = 1 << 20
)

// errUDPClosed fails the queries in flight when the upstream is closed.
var errUDPClosed = errors.New("upstream closed")

// udpPool holds the connected UDP sockets to one upstream: a few shared by
// the queries in flight (least busy first), each retired after maxQueries
// queries or maxAge, and closed once its last query is done. Each has one
// reader goroutine (read).
type udpPool struct {
	addr        string
	raddr       *net.UDPAddr // addr, if it is an IP address and port
	maxSockets  int          // sockets opened to spread the load
	maxPooled   int          // pooled sockets, full ones' overflow included; one-offs come on top
	spread      int
	maxInflight int
	maxQueries  int
	maxAge      time.Duration
	bufs        sync.Pool // *[]byte of dns.MaxMsgSize for readers: any datagram fits

	mu    sync.Mutex
	socks []*udpSock // open: pooled, retired ones still in use, one-offs
}

func newUDPPool(addr string) *udpPool {
	p := &udpPool{
		addr: addr,
		// Two per processor let readers run in parallel with some to spare;
		// more would only add goroutines and open ports.
		maxSockets:  max(2, 2*runtime.GOMAXPROCS(0)),
		maxPooled:   udpMaxPooled,
		spread:      udpSpread,
		maxInflight: udpMaxInflight,
		maxQueries:  udpSocketQueries,
		maxAge:      udpSocketAge,
	}
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		p.raddr = net.UDPAddrFromAddrPort(ap)
	}
	p.bufs.New = func() any {
		b := make([]byte, dns.MaxMsgSize)
		return &b
	}
	return p
}

// acquire returns the socket for one query, opening one if need be. The
// caller must release it.
func (p *udpPool) acquire(ctx context.Context) (*udpSock, error) {
	p.mu.Lock()
	s, _ := p.pickLocked()
	if s != nil {
		p.useLocked(s)
		p.mu.Unlock()
		return s, nil
	}
	p.mu.Unlock()

	// A name is looked up outside the lock, so that a slow lookup holds
	// up no query that has a socket to go to.
	raddr := p.raddr
	if raddr == nil {
		var err error
		if raddr, err = p.resolve(ctx); err != nil {
			return nil, err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s, active := p.pickLocked() // another query may have opened one meanwhile
	if s == nil {
		var err error
		// Below maxSockets every socket had spread queries in flight;
		// above it every one was full.
		if s, err = p.openLocked(raddr, active < max(p.maxSockets, p.maxPooled)); err != nil {
			return nil, err
		}
	}
	p.useLocked(s)
	return s, nil
}

// pickLocked returns the least busy pooled socket, or nil if another
// should be opened (the least busy has spread queries in flight and there
// are fewer than maxSockets, or it is full); and how many sockets are
// pooled.
func (p *udpPool) pickLocked() (best *udpSock, active int) {
	for _, s := range p.socks {
		if s.retired {
			continue
		}
		active++
		if best == nil || s.inflight < best.inflight {
			best = s
		}
	}
	if best == nil || best.inflight >= p.maxInflight || best.inflight >= p.spread && active < p.maxSockets {
		return nil, active
	}
	return best, active
}

func (p *udpPool) useLocked(s *udpSock) {
	s.inflight++
	s.queries++
	if s.queries >= p.maxQueries {
		s.retired = true
	}
}

// openLocked opens a socket to raddr; the kernel picks a random source port
// (net.ipv4.ip_local_port_range). A socket not pooled is a one-off, closed
// after its query.
func (p *udpPool) openLocked(raddr *net.UDPAddr, pooled bool) (*udpSock, error) {
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, err
	}
	if pooled {
		conn.SetReadBuffer(udpReadBuffer) // best effort
	}
	var seed [32]byte
	crand.Read(seed[:])
	s := newUDPSock(conn, seed)
	if pooled {
		// The callback takes p.mu, which is held until s.age is set.
		s.age = time.AfterFunc(p.maxAge, func() { p.retire(s) })
	} else {
		s.retired = true
	}
	p.socks = append(p.socks, s)
	go p.read(s)
	return s, nil
}

// resolve looks up a p.addr given as a name.
func (p *udpPool) resolve(ctx context.Context) (*net.UDPAddr, error) {
	host, port, err := net.SplitHostPort(p.addr)
	if err != nil {
		return nil, err
	}
	num, err := net.DefaultResolver.LookupPort(ctx, "udp", port)
	if err != nil {
		return nil, err
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(ips[0].Unmap(), uint16(num))), nil
}

// release ends a query's use of s, closing s if it is retired and this was
// its last query.
func (p *udpPool) release(s *udpSock) {
	p.mu.Lock()
	s.inflight--
	done := p.finishLocked(s)
	p.mu.Unlock()
	if done {
		s.close()
	}
}

// retire makes s take no new queries, closing it at once if it is idle.
func (p *udpPool) retire(s *udpSock) {
	p.mu.Lock()
	s.retired = true
	done := p.finishLocked(s)
	p.mu.Unlock()
	if done {
		s.close()
	}
}

// finishLocked takes s out of the pool if it is retired and idle, and
// reports whether the caller must close it.
func (p *udpPool) finishLocked(s *udpSock) bool {
	if !s.retired || s.inflight > 0 || s.closed {
		return false
	}
	p.dropLocked(s)
	return true
}

func (p *udpPool) dropLocked(s *udpSock) {
	s.retired, s.closed = true, true
	if i := slices.Index(p.socks, s); i >= 0 {
		last := len(p.socks) - 1
		p.socks[i] = p.socks[last]
		p.socks[last] = nil
		p.socks = p.socks[:last]
	}
}

// kill fails every query on s with err and closes s: after an error on a
// connected UDP socket (an ICMP port unreachable is ECONNREFUSED) no
// answer is coming, so waiting for one would only waste the time left.
func (p *udpPool) kill(s *udpSock, err error) {
	s.fail(err)
	p.mu.Lock()
	p.dropLocked(s)
	p.mu.Unlock()
	s.close()
}

// read is s's reader: it hands each datagram to its query until the socket
// fails or is closed.
func (p *udpPool) read(s *udpSock) {
	bp := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(bp)
	for {
		n, err := s.conn.Read(*bp)
		if err != nil {
			p.kill(s, fmt.Errorf("read: %w", err))
			return
		}
		s.deliver((*bp)[:n])
	}
}

// Close closes every socket and fails the queries waiting on them. The pool
// stays usable: a later query opens a fresh socket.
func (p *udpPool) Close() {
	p.mu.Lock()
	socks := p.socks
	p.socks = nil
	for _, s := range socks {
		s.retired, s.closed = true, true
	}
	p.mu.Unlock()
	for _, s := range socks {
		s.fail(errUDPClosed)
		s.close()
	}
}
