package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

// testServerName is the DoT server name of the test servers; their
// certificate covers it and its wildcard.
const testServerName = "dns.example.net"

// seen is what the chain was given for one query.
type seen struct {
	Name     string
	Proto    resolver.Proto
	ClientID string
	Client   netip.Addr
}

// tableChain answers from a few records, as the chain would, and records
// every query: the listeners are under test here, not the chain.
type tableChain struct {
	records map[string][]dns.RR // by lower-case name

	mu   sync.Mutex
	seen []seen
	// block, if set, is received from before a query for "slow.test." is
	// answered.
	block chan struct{}
}

// testRecords are what tableChain serves.
var testRecords = []string{
	"example.com. 300 IN A 192.0.2.1",
	"example.com. 60 IN A 192.0.2.2",
	"slow.test. 300 IN A 192.0.2.9",
}

func newTableChain(tb testing.TB) *tableChain {
	tb.Helper()
	c := &tableChain{records: make(map[string][]dns.RR)}
	for _, s := range testRecords {
		rr, err := dns.NewRR(s)
		if err != nil {
			tb.Fatal(err)
		}
		c.records[rr.Header().Name] = append(c.records[rr.Header().Name], rr)
	}
	return c
}

func (c *tableChain) Resolve(ctx context.Context, q *resolver.Query) (*dns.Msg, error) {
	c.mu.Lock()
	c.seen = append(c.seen, seen{q.Name(), q.Proto, q.ClientID, q.Client})
	block := c.block
	c.mu.Unlock()
	if q.Name() == "slow.test." && block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	m := new(dns.Msg)
	m.SetReply(q.Msg)
	for _, rr := range c.records[q.Name()] {
		if rr.Header().Rrtype == q.Type() {
			m.Answer = append(m.Answer, dns.Copy(rr))
		}
	}
	if _, ok := c.records[q.Name()]; !ok {
		m.Rcode = dns.RcodeNameError
		soa, _ := dns.NewRR("test. 3600 IN SOA ns.test. host.test. 1 3600 600 86400 30")
		m.Ns = []dns.RR{soa}
	}
	return m, nil
}

// last returns what the chain saw last, failing the test if it saw nothing.
func (c *tableChain) last(tb testing.TB) seen {
	tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) == 0 {
		tb.Fatal("the chain saw no query")
	}
	return c.seen[len(c.seen)-1]
}

func (c *tableChain) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// testCert is a certificate from this package's generator, for
// testServerName, and a pool trusting it.
func testCert(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	dnsNames, ips := certNames([]string{testServerName})
	cert, err := selfSigned(dnsNames, ips, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return cert, pool
}

// certFile writes cert's certificate as PEM in a temporary file, for kdig.
func certFile(tb testing.TB, cert tls.Certificate) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	if err := os.WriteFile(p, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// testServer is a running Server with one DoT and one DoH listener on
// 127.0.0.1 and the pool that trusts its certificate.
type testServer struct {
	*Server
	cert  tls.Certificate
	roots *x509.CertPool
}

// idle waits until no query is being answered: a handed-off answer is
// kept for the fast path after it is sent and before its query is
// released, so afterwards the next query finds it.
func (s *testServer) idle(tb testing.TB) {
	tb.Helper()
	waitFor(tb, "queries in flight to end", func() bool { return s.handler.inflight.total.Load() == 0 })
}

// waitFor polls done until it holds; after clientDeadline it fails the
// test, saying what it waited for.
func waitFor(tb testing.TB, what string, done func() bool) {
	tb.Helper()
	for end := time.Now().Add(clientDeadline); !done(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			tb.Fatalf("timed out waiting for %s", what)
		}
	}
}

// startTLS starts a Server with opt, filling in the listeners, the
// certificate, the server name and the chain (a tableChain when nil). The
// server is shut down when the test ends. setup, if not nil, may change the
// Server before it starts.
func startTLS(tb testing.TB, opt Options, setup func(*Server)) *testServer {
	tb.Helper()
	cert, roots := testCert(tb)
	opt.TLSListen = []string{"127.0.0.1:0"}
	opt.HTTPSListen = []string{"127.0.0.1:0"}
	opt.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	if opt.ServerName == "" {
		opt.ServerName = testServerName
	}
	if opt.Resolver == nil {
		opt.Resolver = newTableChain(tb)
	}
	if testing.Verbose() {
		opt.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s := New(opt)
	if setup != nil {
		setup(s)
	}
	if err := s.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
	})
	return &testServer{Server: s, cert: cert, roots: roots}
}

func (s *testServer) dotAddr() string { return s.TLSAddrs()[0].String() }

func (s *testServer) dohURL() string { return "https://" + s.HTTPSAddrs()[0].String() + dohPath }

// dialTLS opens a DoT connection to s with SNI serverName ("" for none),
// failing the test if the handshake fails.
func (s *testServer) dialTLS(tb testing.TB, serverName string) *dns.Conn {
	tb.Helper()
	c, err := s.tryDialTLS(serverName)
	if err != nil {
		tb.Fatalf("dial tls: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func (s *testServer) tryDialTLS(serverName string) (*dns.Conn, error) {
	cfg := &tls.Config{RootCAs: s.roots, ServerName: serverName, MinVersion: tls.VersionTLS12}
	if serverName == "" {
		cfg.ServerName = "127.0.0.1"
	}
	c, err := dns.DialTimeoutWithTLS("tcp-tls", s.dotAddr(), cfg, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c, nil
}

// exchangeConn sends m on c and reads one answer, failing the test on
// any error.
func exchangeConn(tb testing.TB, c *dns.Conn, m *dns.Msg) *dns.Msg {
	tb.Helper()
	if err := c.WriteMsg(m); err != nil {
		tb.Fatalf("write: %v", err)
	}
	r, err := c.ReadMsg()
	if err != nil {
		tb.Fatalf("read: %v", err)
	}
	return r
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

// checkA fails the test unless r answers with the A records want.
func checkA(tb testing.TB, r *dns.Msg, want ...string) {
	tb.Helper()
	var got []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			got = append(got, a.A.String())
		}
	}
	if r.Rcode != dns.RcodeSuccess || strings.Join(got, " ") != strings.Join(want, " ") {
		tb.Fatalf("answer %s %v, want NOERROR %v\n%v", dns.RcodeToString[r.Rcode], got, want, r)
	}
}
