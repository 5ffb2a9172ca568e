// Package dnstest provides in-process DNS servers for tests: fake upstreams
// over UDP, TCP, TLS and HTTPS on loopback.
//
// A fake is started with NewUpstream (UDP and TCP on one port),
// NewTLSUpstream (DNS over TLS) or NewDoHUpstream (DNS over HTTPS). It
// listens on 127.0.0.1 only, is ready to answer when the constructor returns,
// and is shut down by the test's Cleanup. Its behaviour is a dns.Handler;
// handlers.go has the usual ones (a zone, a fixed rcode, silence, delay,
// spoofed answers) and client.go helpers to query any server from a test.
// Clock is the settable time source every package's tests share.
package dnstest

import (
	"context"
	"crypto/x509"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// shutdownWait bounds how long Close waits for handlers still running (a
// DelayHandler, say) before it closes the sockets anyway.
const shutdownWait = time.Second

// Upstream is a fake DNS server on 127.0.0.1. NewUpstream serves UDP and TCP
// on the same port; NewTLSUpstream and NewDoHUpstream serve one encrypted
// transport each. All methods are safe for concurrent use.
type Upstream struct {
	addr  string
	url   string
	roots *x509.CertPool

	handler atomic.Pointer[handlerBox]
	count   atomic.Int64
	conns   atomic.Int64

	mu        sync.Mutex
	last      *dns.Msg
	httpProto string
	closers   []func()
	closed    bool
}

// handlerBox lets an interface value live in an atomic.Pointer.
type handlerBox struct{ h dns.Handler }

// NewUpstream starts a fake DNS server answering with h over UDP and TCP on
// the same loopback port. A nil h answers NXDOMAIN to everything. The server
// is closed by tb.Cleanup.
func NewUpstream(tb testing.TB, h dns.Handler) *Upstream {
	tb.Helper()
	u := newUpstream(tb, h)
	var lastErr error
	// The UDP port is chosen by the kernel; the same TCP port may be taken,
	// so try a few times.
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("dnstest: listen udp: %v", err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			lastErr = err
			continue
		}
		u.addr = pc.LocalAddr().String()
		u.start(tb, &dns.Server{Net: "udp", PacketConn: pc, UDPSize: dns.MaxMsgSize, Handler: dispatcher{u}})
		u.start(tb, &dns.Server{Net: "tcp", Listener: countingListener{l, &u.conns}, Handler: dispatcher{u}})
		return u
	}
	tb.Fatalf("dnstest: no port free for both UDP and TCP: %v", lastErr)
	return nil
}

func newUpstream(tb testing.TB, h dns.Handler) *Upstream {
	u := &Upstream{}
	u.SetHandler(h)
	tb.Cleanup(u.Close)
	return u
}

// start runs srv and returns once it is listening.
func (u *Upstream) start(tb testing.TB, srv *dns.Server) {
	tb.Helper()
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	errc := make(chan error, 1)
	go func() { errc <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-errc:
		tb.Fatalf("dnstest: serve %s: %v", srv.Net, err)
	}
	u.onClose(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
		defer cancel()
		srv.ShutdownContext(ctx)
		if srv.Listener != nil {
			srv.Listener.Close()
		}
	})
}

func (u *Upstream) onClose(f func()) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.closers = append(u.closers, f)
}

// Addr returns the server's address, "127.0.0.1:port". For a TLS fake it is
// the TLS port; for a DoH fake the HTTPS port.
func (u *Upstream) Addr() string { return u.addr }

// URL returns the DoH endpoint, "https://127.0.0.1:port/dns-query", or "" for
// a fake that is not DoH.
func (u *Upstream) URL() string { return u.url }

// RootCAs returns a pool trusting the fake's certificate (TLS and DoH fakes;
// nil otherwise).
func (u *Upstream) RootCAs() *x509.CertPool { return u.roots }

// Count returns how many queries the fake has received, over all transports.
func (u *Upstream) Count() int64 { return u.count.Load() }

// Conns returns how many TCP, TLS or HTTPS connections the fake has accepted,
// so tests can check that clients reuse them.
func (u *Upstream) Conns() int64 { return u.conns.Load() }

// LastRequest returns a copy of the last query received, or nil.
func (u *Upstream) LastRequest() *dns.Msg {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.last == nil {
		return nil
	}
	return u.last.Copy()
}

// HTTPProto returns the protocol of the last DoH request ("HTTP/2.0").
func (u *Upstream) HTTPProto() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.httpProto
}

// SetHandler replaces the fake's behaviour; queries already being answered
// finish with the old one. A nil h answers NXDOMAIN to everything.
func (u *Upstream) SetHandler(h dns.Handler) {
	if h == nil {
		h = ZoneHandler()
	}
	u.handler.Store(&handlerBox{h})
}

// Close stops the fake: its ports are closed, so queries to it are refused
// (or time out). Close is idempotent and also run by the test's Cleanup.
func (u *Upstream) Close() {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return
	}
	u.closed = true
	closers := u.closers
	u.closers = nil
	u.mu.Unlock()
	for _, f := range closers {
		f()
	}
}

func (u *Upstream) String() string {
	if u.url != "" {
		return u.url
	}
	return u.addr
}

// dispatcher counts and records each query, then hands it to the current
// handler. Over UDP it truncates answers to what the client can take, as a
// real server does, so handlers need not care about transports.
type dispatcher struct{ u *Upstream }

func (d dispatcher) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	d.u.count.Add(1)
	d.u.mu.Lock()
	d.u.last = r.Copy()
	d.u.mu.Unlock()
	if _, ok := w.LocalAddr().(*net.UDPAddr); ok {
		size := dns.MinMsgSize
		if o := r.IsEdns0(); o != nil {
			size = int(o.UDPSize())
		}
		w = truncatingWriter{w, size}
	}
	d.u.handler.Load().h.ServeDNS(w, r)
}

type truncatingWriter struct {
	dns.ResponseWriter
	size int
}

func (w truncatingWriter) WriteMsg(m *dns.Msg) error {
	m.Truncate(w.size)
	return w.ResponseWriter.WriteMsg(m)
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// listenTCP listens on a kernel-chosen loopback TCP port.
func listenTCP(tb testing.TB) net.Listener {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("dnstest: listen tcp: %v", err)
	}
	return l
}
