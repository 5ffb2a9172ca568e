// Package server owns Haven's DNS listeners: it reads queries from UDP and
// TCP sockets, DNS over TLS and DNS over HTTPS, checks them, hands them to
// the resolver chain, and writes the answers back with correct DNS behaviour
// (EDNS0 negotiation, truncation, answers for every query, even when the
// chain fails). It also provides the listeners' certificate (cert.go).
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/havendns/haven/server/wirecache"
	"github.com/miekg/dns"
)

// Options configure a Server. The zero value of every field but Resolver is
// usable.
type Options struct {
	Listen   []string          // host:port; UDP and TCP on each. Port 0 picks one port for both.
	Resolver resolver.Resolver // the chain; non-nil
	Logger   *slog.Logger      // nil discards
	// Timeout bounds how long one query may take in the chain before it is
	// answered SERVFAIL (default 4s, under the usual 5s client timeout).
	Timeout time.Duration
	// UDPSize is the largest UDP answer Haven advertises and sends (default
	// 1232, the DNS Flag Day 2020 size that avoids IP fragmentation).
	UDPSize uint16
	// Observe, if set, is called after every answer is written, with the
	// query as the chain left it. It must be cheap and must not keep q.
	Observe func(q *resolver.Query, rcode int, d time.Duration)
	// Guard, if set, admits or turns away each query before anything
	// else: who may use Haven, and how fast.
	Guard Guard
	// Refused, if set, is called for each query the guard turns away,
	// with the reason.
	Refused func(reason string)

	TLSListen   []string // host:port of DNS-over-TLS listeners (RFC 7858)
	HTTPSListen []string // host:port of DNS-over-HTTPS listeners (RFC 8484)
	// TLSConfig holds the certificate of the DoT and DoH listeners; it is
	// required when either list is non-empty (LoadOrCreateCertificate).
	TLSConfig *tls.Config
	// ServerName is the DoT name whose subdomains carry client ids: SNI
	// "<id>.<ServerName>" gives Query.ClientID <id>.
	ServerName string
	// MaxConns caps the TCP, DoT and DoH connections open at once, counted
	// together over all their listeners (default 1000); MaxConnsPerIP caps
	// them per client address (default 50). A connection over a cap is
	// closed as soon as it is accepted.
	MaxConns, MaxConnsPerIP int
	// MaxInFlight caps the queries being answered at once, over every
	// transport (default 4096); MaxInFlightPerIP caps them per client
	// address (default 256). A query over a cap is answered REFUSED at
	// once, without going to the chain.
	MaxInFlight, MaxInFlightPerIP int
	// ReadTimeout bounds, on TCP and DoT, the TLS handshake, the wait for
	// a connection's first query, and the arrival of the rest of a message
	// once its length has come (default 5s); DoH gets it for request
	// headers and twice it for a whole request. IdleTimeout is how long a
	// TCP or DoT connection may wait for its next query (default 10s).
	ReadTimeout, IdleTimeout time.Duration
	// BatchUDP serves UDP, on Linux, with UDPReaders SO_REUSEPORT sockets
	// per address read and written in batches (recvmmsg, sendmmsg) instead
	// of miekg/dns's one packet at a time; answers are the same
	// (udpbatch_linux.go). Elsewhere it is ignored.
	BatchUDP bool
	// UDPReaders is how many sockets, each with a read loop of its own,
	// serve a batched UDP address; 0 means one per two CPUs Go runs on
	// (GOMAXPROCS), at least one (see batchReaders).
	UDPReaders int
	// Subject, if set with BatchUDP, turns on the fast path: each answer
	// to a plain UDP query is kept packed (FastAnswers of them, default
	// 65536) and replayed to the next identical query from a client the
	// policy treats alike, until its first TTL ends, its decision's
	// Trace.Valid ends, or the policy's version changes. Subject says
	// whom the policy decides for when addr asks, and the version of
	// everything that decision depends on but the clock; who "" keeps
	// addr's query off the fast path. See "Fast path" in the README.
	Subject     func(addr netip.Addr) (who string, version uint64)
	FastAnswers int
	// Prefetch, if set with the fast path, lets a batched UDP reader send
	// the queries it cannot replay upstream itself, in batches, and run
	// the chain only once the answer is in (resolver.Prefetched), instead
	// of handing each to a worker that waits on the upstream. It says
	// whether q may go so: the policy forwards it unchanged, the cache has
	// no answer for it, its upstream is plain UDP; and if so, to which
	// address, the upstream's name, and q's upstream query, packed into
	// buf with ID id. See "Prefetch" in the README.
	Prefetch func(q *resolver.Query, id uint16, buf []byte) (wire []byte, to netip.AddrPort, upstream string, ok bool)
	// PrefetchWait is how long a prefetched query waits for its answer
	// before a worker asks again through the chain (default 1s). Haven
	// gives half its upstream timeout, so that failing over to the next
	// upstream takes no longer than the chain's own first attempt.
	PrefetchWait time.Duration
	// Now is the fast path's clock (nil = time.Now); it must be the
	// chain's, or answers would outlive their schedule windows.
	Now func() time.Time
}

// Defaults of the Options fields left zero.
const (
	defaultMaxConns         = 1000
	defaultMaxConnsPerIP    = 50
	defaultMaxInFlight      = 4096
	defaultMaxInFlightPerIP = 256
	// defaultReadTimeout is the usual client timeout: a client that has
	// sent nothing by then has given up, or never meant to ask.
	defaultReadTimeout = 5 * time.Second
	// defaultIdleTimeout keeps an idle connection open long enough for a
	// stub resolver to reuse it, and no longer (RFC 7766 suggests
	// seconds).
	defaultIdleTimeout = 10 * time.Second
	// defaultFastAnswers holds the answers to a household's or a school's
	// popular names many times over, in a few MB.
	defaultFastAnswers = 1 << 16
	// defaultPrefetchWait is the upstream timeout's default share of a
	// first attempt when there are two upstreams.
	defaultPrefetchWait = time.Second
)

// Server serves DNS on a set of addresses.
type Server struct {
	opt     Options
	log     *slog.Logger
	handler *handler

	limit *connLimiter // shared by the TCP, DoT and DoH listeners

	mu         sync.Mutex // guards the fields below
	servers    []*dns.Server
	batch      []*udpBatchServer
	addrs      []net.Addr // bound UDP addresses, in Listen order
	dot        []*dotServer
	doh        []*dohServer
	tlsAddrs   []net.Addr
	httpsAddrs []net.Addr
}

// New returns a Server; Start binds its listeners.
func New(opt Options) *Server {
	if opt.Timeout <= 0 {
		opt.Timeout = 4 * time.Second
	}
	if opt.UDPSize < 512 {
		opt.UDPSize = 1232
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	orDefault(&opt.MaxConns, defaultMaxConns)
	orDefault(&opt.MaxConnsPerIP, defaultMaxConnsPerIP)
	orDefault(&opt.MaxInFlight, defaultMaxInFlight)
	orDefault(&opt.MaxInFlightPerIP, defaultMaxInFlightPerIP)
	orDefault(&opt.ReadTimeout, defaultReadTimeout)
	orDefault(&opt.IdleTimeout, defaultIdleTimeout)
	if opt.Now == nil {
		opt.Now = time.Now
	}
	orDefault(&opt.FastAnswers, defaultFastAnswers)
	if opt.PrefetchWait <= 0 {
		opt.PrefetchWait = defaultPrefetchWait
	}
	h := &handler{opt: opt, log: log,
		inflight: newInflightLimiter(opt.MaxInFlight, opt.MaxInFlightPerIP)}
	if opt.Subject != nil && opt.BatchUDP && batchSupported {
		h.fast = wirecache.New[fastMeta](opt.FastAnswers)
	}
	return &Server{opt: opt, log: log, handler: h,
		limit: newConnLimiter(opt.MaxConns, opt.MaxConnsPerIP)}
}

// orDefault sets *v to def when it is zero or negative.
func orDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Start binds UDP and TCP on every listen address, and the DoT and DoH
// listeners, and serves in the background. It fails, binding nothing, if
// any address cannot be bound.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.servers) > 0 || len(s.batch) > 0 || len(s.dot) > 0 || len(s.doh) > 0 {
		return errors.New("server: already started")
	}
	if len(s.opt.TLSListen) > 0 || len(s.opt.HTTPSListen) > 0 {
		c := s.opt.TLSConfig
		if c == nil || (len(c.Certificates) == 0 && c.GetCertificate == nil && c.GetConfigForClient == nil) {
			return errors.New("server: DNS over TLS or HTTPS needs a TLS certificate")
		}
	}
	var started []*dns.Server
	var batch []*udpBatchServer
	fail := func(err error) error {
		for _, srv := range started {
			_ = srv.Shutdown()
		}
		for _, b := range batch {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = b.shutdown(ctx)
		}
		s.addrs = nil
		return err
	}
	for _, addr := range s.opt.Listen {
		pc, ln, b, err := s.bindUDP(addr)
		if err != nil {
			return fail(fmt.Errorf("server: listen %s: %w", addr, err))
		}
		if b != nil {
			batch = append(batch, b)
		}
		idle := s.opt.IdleTimeout
		tcp := &dns.Server{Listener: s.limit.listener(ln, s.log), Handler: s.handler,
			ReadTimeout: s.opt.ReadTimeout, WriteTimeout: writeTimeout,
			IdleTimeout: func() time.Duration { return idle }}
		srvs := []*dns.Server{tcp}
		if b == nil {
			srvs = append(srvs, &dns.Server{PacketConn: pc, Handler: s.handler, UDPSize: int(s.opt.UDPSize)})
		}
		for _, srv := range srvs {
			ready := make(chan struct{})
			srv.NotifyStartedFunc = func() { close(ready) }
			errc := make(chan error, 1)
			go func() { errc <- srv.ActivateAndServe() }()
			select {
			case <-ready:
			case err := <-errc:
				return fail(fmt.Errorf("server: serve %s: %w", addr, err))
			}
			started = append(started, srv)
		}
		s.addrs = append(s.addrs, pc.LocalAddr())
		s.log.Info("listening", "addr", pc.LocalAddr().String(), "proto", "udp+tcp", "udp_batch", b != nil)
	}
	if err := s.startEncrypted(); err != nil {
		return fail(err)
	}
	s.servers, s.batch = started, batch
	return nil
}

// bindUDP binds addr for UDP and TCP. With BatchUDP (on Linux) it also
// starts the batched UDP server, returned with its first socket; otherwise
// that is nil and pc is for miekg/dns.
func (s *Server) bindUDP(addr string) (pc net.PacketConn, ln net.Listener, b *udpBatchServer, err error) {
	if !s.opt.BatchUDP || !batchSupported {
		pc, ln, err = bindPair(addr)
		return pc, ln, nil, err
	}
	conns, ln, err := bindBatch(addr, batchReaders(s.opt.UDPReaders))
	if err != nil {
		return nil, nil, nil, err
	}
	b, err = startUDPBatch(s.handler, conns)
	if err != nil {
		for _, c := range conns {
			c.Close()
		}
		ln.Close()
		return nil, nil, nil, err
	}
	return conns[0], ln, b, nil
}

// startEncrypted binds the DoT and DoH listeners. On failure it closes
// those it started. s.mu is held.
func (s *Server) startEncrypted() error {
	fail := func(err error) error {
		for _, d := range s.dot {
			d.close()
		}
		for _, d := range s.doh {
			d.close()
		}
		s.dot, s.doh, s.tlsAddrs, s.httpsAddrs = nil, nil, nil, nil
		return err
	}
	for _, addr := range s.opt.TLSListen {
		d, err := startDoT(addr, s)
		if err != nil {
			return fail(fmt.Errorf("server: listen tls %s: %w", addr, err))
		}
		s.dot = append(s.dot, d)
		s.tlsAddrs = append(s.tlsAddrs, d.addr())
		s.log.Info("listening", "addr", d.addr().String(), "proto", "tls")
	}
	for _, addr := range s.opt.HTTPSListen {
		d, err := startDoH(addr, s)
		if err != nil {
			return fail(fmt.Errorf("server: listen https %s: %w", addr, err))
		}
		s.doh = append(s.doh, d)
		s.httpsAddrs = append(s.httpsAddrs, d.addr())
		s.log.Info("listening", "addr", d.addr().String(), "proto", "https")
	}
	return nil
}

// bindPair binds UDP and TCP on the same address. With port 0 the TCP
// listener takes the port UDP was given; if that port is taken on TCP, it
// tries again with a new one.
func bindPair(addr string) (net.PacketConn, net.Listener, error) {
	for attempt := 0; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if _, port, _ := net.SplitHostPort(addr); port != "0" || attempt >= 10 {
			return nil, nil, err
		}
	}
}

// Addrs returns the bound addresses (UDP; TCP shares each port).
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.addrs...)
}

// TLSAddrs returns the bound DoT addresses, in TLSListen order.
func (s *Server) TLSAddrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.tlsAddrs...)
}

// HTTPSAddrs returns the bound DoH addresses, in HTTPSListen order.
func (s *Server) HTTPSAddrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.httpsAddrs...)
}

// Shutdown stops every listener, letting queries in flight finish until ctx
// ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	servers, batch, dot, doh := s.servers, s.batch, s.dot, s.doh
	s.servers, s.batch, s.addrs = nil, nil, nil
	s.dot, s.doh, s.tlsAddrs, s.httpsAddrs = nil, nil, nil, nil
	s.mu.Unlock()
	var errs []error
	for _, srv := range servers {
		if err := srv.ShutdownContext(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, b := range batch {
		if err := b.shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range dot {
		if err := d.shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range doh {
		if err := d.shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
