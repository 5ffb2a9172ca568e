package dnstest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Faults below the DNS layer, where a dns.Handler cannot reach: a UDP server
// that sends raw bytes (garbage, a bare truncated header), and TCP and TLS
// servers that reset every connection.

// Datagram is one packet a RawUDP server received.
type Datagram struct {
	Data []byte
	From netip.AddrPort
}

// RawUDP is a UDP server on 127.0.0.1 that answers each datagram with the
// packets its reply function returns (none: silence). It also records what
// it received, source ports included, so tests can check how a client
// picks IDs and ports.
type RawUDP struct {
	conn  net.PacketConn
	reply func(Datagram) [][]byte
	count atomic.Int64
	done  chan struct{}
	once  sync.Once

	mu  sync.Mutex
	got []Datagram
}

// NewRawUDP starts a raw UDP server; it is closed by tb.Cleanup.
func NewRawUDP(tb testing.TB, reply func(Datagram) [][]byte) *RawUDP {
	tb.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("dnstest: listen udp: %v", err)
	}
	u := &RawUDP{conn: pc, reply: reply, done: make(chan struct{})}
	go u.serve()
	tb.Cleanup(u.Close)
	return u
}

func (u *RawUDP) serve() {
	defer close(u.done)
	buf := make([]byte, 65536)
	for {
		n, from, err := u.conn.ReadFrom(buf)
		if err != nil {
			return // closed
		}
		d := Datagram{Data: append([]byte(nil), buf[:n]...)}
		if a, ok := from.(*net.UDPAddr); ok {
			d.From = a.AddrPort()
		}
		u.count.Add(1)
		u.mu.Lock()
		u.got = append(u.got, d)
		u.mu.Unlock()
		for _, p := range u.reply(d) {
			u.conn.WriteTo(p, from)
		}
	}
}

// Addr returns "127.0.0.1:port".
func (u *RawUDP) Addr() string { return u.conn.LocalAddr().String() }

// Count returns how many datagrams the server has received.
func (u *RawUDP) Count() int64 { return u.count.Load() }

// Received returns a copy of every datagram received, in order.
func (u *RawUDP) Received() []Datagram {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Datagram(nil), u.got...)
}

// Close stops the server; it is idempotent.
func (u *RawUDP) Close() {
	u.once.Do(func() {
		u.conn.Close()
		<-u.done
	})
}

// GarbageReply answers every datagram with 12 to 512 random bytes, from a
// generator seeded with seed so that a failure can be replayed. The bytes are
// no answer to anything: a broken middlebox, or noise on the port.
func GarbageReply(seed uint64) func(Datagram) [][]byte {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func(Datagram) [][]byte {
		mu.Lock()
		defer mu.Unlock()
		p := make([]byte, 12+rng.IntN(501))
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		return [][]byte{p}
	}
}

// TruncatedReply answers every query with an empty reply to it, TC set:
// "too big for UDP, ask again over TCP". What does not parse as a query
// gets nothing.
func TruncatedReply() func(Datagram) [][]byte {
	return func(d Datagram) [][]byte {
		q := new(dns.Msg)
		if q.Unpack(d.Data) != nil {
			return nil
		}
		m := new(dns.Msg)
		m.SetReply(q)
		m.Truncated = true
		b, err := m.Pack()
		if err != nil {
			return nil
		}
		return [][]byte{b}
	}
}

// ResetServer is a TCP server on 127.0.0.1 that resets every connection it
// accepts: it closes it with SO_LINGER 0, so the client gets a RST rather
// than an orderly FIN. The TLS variant completes the handshake first, so
// the client fails only when it sends its query or reads the answer.
type ResetServer struct {
	ln    net.Listener
	conf  *tls.Config // nil for plain TCP
	roots *x509.CertPool
	conns atomic.Int64
	wg    sync.WaitGroup
	once  sync.Once
}

// NewResetTCP starts a resetting TCP server on addr ("127.0.0.1:0" for any
// port, or the port of a RawUDP server so that a TCP retry of its
// truncated answers fails). It is closed by tb.Cleanup.
func NewResetTCP(tb testing.TB, addr string) *ResetServer {
	tb.Helper()
	return newReset(tb, addr, nil, nil)
}

// NewResetTLS starts a TLS server on 127.0.0.1 that completes every
// handshake and then resets the connection. Clients trust it through
// RootCAs.
func NewResetTLS(tb testing.TB) *ResetServer {
	tb.Helper()
	cert, pool := NewCertificate(tb)
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return newReset(tb, "127.0.0.1:0", conf, pool)
}

func newReset(tb testing.TB, addr string, conf *tls.Config, roots *x509.CertPool) *ResetServer {
	tb.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatalf("dnstest: listen tcp %s: %v", addr, err)
	}
	s := &ResetServer{ln: ln, conf: conf, roots: roots}
	s.wg.Add(1)
	go s.serve()
	tb.Cleanup(s.Close)
	return s
}

func (s *ResetServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // closed
		}
		s.conns.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.reset(c)
		}()
	}
}

func (s *ResetServer) reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	if s.conf != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// A failed handshake resets all the same.
		_ = tls.Server(c, s.conf).HandshakeContext(ctx)
	}
	c.Close()
}

// Addr returns "127.0.0.1:port".
func (s *ResetServer) Addr() string { return s.ln.Addr().String() }

// Count returns how many connections the server has accepted (and reset).
func (s *ResetServer) Count() int64 { return s.conns.Load() }

// RootCAs returns a pool trusting the TLS variant's certificate; nil for
// plain TCP.
func (s *ResetServer) RootCAs() *x509.CertPool { return s.roots }

// Close stops accepting and waits for connections being reset; it is
// idempotent.
func (s *ResetServer) Close() {
	s.once.Do(func() {
		s.ln.Close()
		s.wg.Wait()
	})
}
