package server

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// clientDeadline bounds every read and write of the abuse tests' clients.
// It is far past the short server timeouts the tests set, so that a
// connection the server should have cut off fails the test by reaching it.
const clientDeadline = 10 * time.Second

// tcpAddr is the plain TCP address of s (the port of its UDP listener).
func (s *testServer) tcpAddr() string { return s.Addrs()[0].String() }

// dialFrom opens a TCP connection from the loopback address src to addr.
func dialFrom(src, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: clientDeadline}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s from %s: %w", addr, src, err)
	}
	c.SetDeadline(time.Now().Add(clientDeadline))
	return c, nil
}

// dialProto opens a DNS connection from src to s over "tcp" or "dot" (the
// handshake done), closed when the test ends.
func (s *testServer) dialProto(tb testing.TB, proto, src string) (*dns.Conn, error) {
	tb.Helper()
	addr := s.tcpAddr()
	if proto == "dot" {
		addr = s.dotAddr()
	}
	c, err := dialFrom(src, addr)
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() { c.Close() })
	if proto == "dot" {
		tc := tls.Client(c, &tls.Config{RootCAs: s.roots, ServerName: "localhost", MinVersion: tls.VersionTLS12})
		if err := tc.Handshake(); err != nil {
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		c = tc
	}
	return &dns.Conn{Conn: c}, nil
}

// udpFrom returns a UDP DNS connection from src to s.
func (s *testServer) udpFrom(tb testing.TB, src string) *dns.Conn {
	tb.Helper()
	laddr := &net.UDPAddr{IP: net.ParseIP(src)}
	raddr := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(s.Addrs()[0].String()))
	c, err := net.DialUDP("udp", laddr, raddr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(clientDeadline))
	return &dns.Conn{Conn: c}
}

// askFrom sends one query for name from src over UDP and returns the rcode
// of its answer.
func (s *testServer) askFrom(tb testing.TB, src, name string) int {
	tb.Helper()
	c := s.udpFrom(tb, src)
	return exchangeConn(tb, c, query(name, dns.TypeA)).Rcode
}

// served reports whether c answers a query.
func served(c *dns.Conn) error {
	if err := c.WriteMsg(query("example.com.", dns.TypeA)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	r, err := c.ReadMsg()
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		return fmt.Errorf("answer %s with %d records", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	return nil
}

// closedByServer reads from c until the server closes it. It returns nil
// for an end of file or a reset, and an error for data or for the client's
// own deadline: the server left the connection open.
func closedByServer(c net.Conn) error {
	var b [512]byte
	n, err := c.Read(b[:])
	if err == nil {
		return fmt.Errorf("read %q, want the connection closed", b[:n])
	}
	return openErr(err)
}

// closedAfterHTTPError is closedByServer for an HTTP/1.1 connection,
// which net/http may close with a 4xx answer.
func closedAfterHTTPError(c net.Conn) error {
	data, err := io.ReadAll(c)
	if len(data) > 0 && !bytes.HasPrefix(data, []byte("HTTP/1.1 4")) {
		return fmt.Errorf("read %q, want the connection closed", data)
	}
	return openErr(err)
}

// openErr is nil for an error that says the server closed the connection,
// and says the connection stayed open for the client's deadline.
func openErr(err error) error {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return fmt.Errorf("still open at the client's deadline: %w", err)
	}
	return nil
}

// eventually polls cond until it holds, failing the test after
// clientDeadline. It waits for the server to notice what a client did.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(clientDeadline); !cond(); {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not after %v", what, clientDeadline)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// openConns is the number of stream connections s counts as open.
func (s *testServer) openConns() int {
	s.limit.mu.Lock()
	defer s.limit.mu.Unlock()
	return s.limit.total
}
