package server

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
)

// connLimiter counts the DoT and DoH connections open, overall and per
// client address, so that one client (or a flood of them) cannot take every
// file descriptor: each connection costs a socket and a TLS state, unlike a
// UDP query.
type connLimiter struct {
	max, perIP int

	mu    sync.Mutex
	total int
	byIP  map[netip.Addr]int
}

func newConnLimiter(max, perIP int) *connLimiter {
	return &connLimiter{max: max, perIP: perIP, byIP: make(map[netip.Addr]int)}
}

func (l *connLimiter) acquire(ip netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.max || l.byIP[ip] >= l.perIP {
		return false
	}
	l.total++
	l.byIP[ip]++
	return true
}

func (l *connLimiter) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byIP[ip]--; l.byIP[ip] <= 0 {
		delete(l.byIP, ip)
	}
}

// listener wraps ln so that a connection over a limit is closed as soon as
// it is accepted, before any TLS work is done for it.
func (l *connLimiter) listener(ln net.Listener, log *slog.Logger) net.Listener {
	return &limitListener{Listener: ln, lim: l, log: log}
}

type limitListener struct {
	net.Listener
	lim *connLimiter
	log *slog.Logger
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := clientAddr(c.RemoteAddr())
		if l.lim.acquire(ip) {
			return &limitConn{Conn: c, lim: l.lim, ip: ip}, nil
		}
		l.log.Debug("too many connections: closed", "client", ip, "addr", l.Addr().String())
		c.Close()
	}
}

// limitConn gives its place back when it is closed, once.
type limitConn struct {
	net.Conn
	lim  *connLimiter
	ip   netip.Addr
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.lim.release(c.ip) })
	return err
}
