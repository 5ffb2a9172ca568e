package server

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

const (
	// writeTimeout bounds the writing of an answer on TCP and DoT: a
	// client that does not read its answers is cut off.
	writeTimeout = 5 * time.Second
	// maxPipeline caps the queries of one DoT connection answered at
	// once; past it the connection is not read until one is answered.
	// Options.MaxInFlightPerIP bounds a client's queries over all its
	// connections.
	maxPipeline = 64
)

// dotServer serves DNS over TLS (RFC 7858) on one listener. It has its own
// connection loop rather than miekg/dns's so that pipelined queries are
// answered concurrently (RFC 7766 6.2.1.1): one slow upstream answer must
// not hold up the others a stub sent on the same connection.
type dotServer struct {
	h          *handler
	log        *slog.Logger
	ln         net.Listener // limited by the Server's connLimiter
	cfg        *tls.Config
	serverName string // lower case, no final dot
	read, idle time.Duration

	wg sync.WaitGroup // the accept loop and every connection

	mu      sync.Mutex // guards conns and closing
	conns   map[net.Conn]struct{}
	closing bool
}

func startDoT(addr string, s *Server) (*dotServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	cfg := s.opt.TLSConfig.Clone()
	// A client offering ALPN ids the server does not list would fail the
	// handshake; RFC 7858 needs none.
	cfg.NextProtos = nil
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	d := &dotServer{
		h:          s.handler,
		log:        s.log,
		ln:         s.limit.listener(ln, s.log),
		cfg:        cfg,
		serverName: strings.TrimSuffix(strings.ToLower(s.opt.ServerName), "."),
		read:       s.opt.ReadTimeout,
		idle:       s.opt.IdleTimeout,
		conns:      make(map[net.Conn]struct{}),
	}
	d.wg.Add(1)
	go d.serve()
	return d, nil
}

func (d *dotServer) addr() net.Addr { return d.ln.Addr() }

func (d *dotServer) serve() {
	defer d.wg.Done()
	var delay time.Duration
	for {
		c, err := d.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, say: wait and retry, as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			d.log.Warn("accept", "proto", "tls", "err", err, "retry", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if !d.track(c) {
			c.Close()
			continue
		}
		go d.serveConn(c)
	}
}

// track registers c (so that shutdown can reach it) and counts it in wg;
// it refuses c once shutdown has begun.
func (d *dotServer) track(c net.Conn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return false
	}
	d.conns[c] = struct{}{}
	d.wg.Add(1)
	return true
}

func (d *dotServer) untrack(c net.Conn) {
	c.Close()
	d.mu.Lock()
	delete(d.conns, c)
	d.mu.Unlock()
	d.wg.Done()
}

// setReadDeadline sets c's read deadline, unless shutdown has set it in
// the past to stop the reading.
func (d *dotServer) setReadDeadline(c net.Conn, t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closing {
		c.SetReadDeadline(t)
	}
}

// serveConn reads length-prefixed queries from one connection until the
// client closes it, stays idle too long or sends garbage, and answers each
// in its own goroutine, writing the answers as they come.
func (d *dotServer) serveConn(c net.Conn) {
	defer d.untrack(c)
	tc := tls.Server(c, d.cfg)
	c.SetWriteDeadline(time.Now().Add(writeTimeout))
	d.setReadDeadline(c, time.Now().Add(d.read))
	if err := tc.Handshake(); err != nil {
		d.log.Debug("tls handshake", "client", c.RemoteAddr().String(), "err", err)
		return
	}
	client := clientAddr(c.RemoteAddr())
	id := sniClientID(tc.ConnectionState().ServerName, d.serverName)

	var wmu sync.Mutex // one answer at a time on the wire
	write := func(_ *dns.Msg, wire []byte) error {
		buf := make([]byte, 2+len(wire))
		binary.BigEndian.PutUint16(buf, uint16(len(wire)))
		copy(buf[2:], wire)
		wmu.Lock()
		defer wmu.Unlock()
		c.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := tc.Write(buf)
		if err != nil {
			// A client that does not read its answers is gone: stop
			// reading its queries too.
			c.Close()
		}
		return err
	}

	var inflight sync.WaitGroup
	defer inflight.Wait()
	sem := make(chan struct{}, maxPipeline)
	// The first query must follow the handshake promptly; later ones may
	// take the idle timeout to come. Once its length is in, the rest of a
	// message must come promptly too: a client trickling bytes (slow
	// loris) is cut off.
	wait := d.read
	for {
		d.setReadDeadline(c, time.Now().Add(wait))
		var l [2]byte
		if _, err := io.ReadFull(tc, l[:]); err != nil {
			return
		}
		d.setReadDeadline(c, time.Now().Add(d.read))
		msg := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(tc, msg); err != nil {
			return
		}
		wait = d.idle
		sem <- struct{}{}
		inflight.Add(1)
		go func() {
			defer func() {
				<-sem
				inflight.Done()
			}()
			q := &resolver.Query{Client: client, Proto: resolver.DoT, ClientID: id}
			d.h.serveStream(msg, q, write)
		}()
	}
}

// sniClientID returns the client id a TLS server name carries: "kidtablet"
// for "kidtablet.dns.example.net" when the server name is dns.example.net,
// and "" for any other name (the server name itself, an address, none).
func sniClientID(sni, serverName string) string {
	if serverName == "" {
		return ""
	}
	sni = strings.TrimSuffix(strings.ToLower(sni), ".")
	id, ok := strings.CutSuffix(sni, "."+serverName)
	if !ok || !validClientID(id) {
		return ""
	}
	return id
}

// shutdown stops accepting, stops reading queries, lets the answers in
// flight be written until ctx ends, and then closes what is left.
func (d *dotServer) shutdown(ctx context.Context) error {
	d.mu.Lock()
	d.closing = true
	for c := range d.conns {
		// In the past: reads end now, writes of answers go on.
		c.SetReadDeadline(time.Unix(1, 0))
	}
	d.mu.Unlock()
	d.ln.Close()

	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		d.close()
		return ctx.Err()
	}
}

// close stops the listener and closes every connection at once.
func (d *dotServer) close() {
	d.mu.Lock()
	d.closing = true
	for c := range d.conns {
		c.Close()
	}
	d.mu.Unlock()
	d.ln.Close()
}
