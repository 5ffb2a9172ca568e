package upstream

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// streamUpstream speaks DNS over TCP or, with a TLS configuration, over TLS
// (RFC 7858). It keeps a few idle connections for reuse, one query at a time
// on each; a connection that fails in any way is closed, never reused.
type streamUpstream struct {
	name    string
	addr    string
	timeout time.Duration
	tls     *tls.Config // nil for plain TCP
	dialer  net.Dialer

	mu   sync.Mutex
	idle []idleConn // most recently used last
}

type idleConn struct {
	conn  net.Conn
	since time.Time
}

func newStream(name string, opt Options, conf *tls.Config) *streamUpstream {
	return &streamUpstream{name: name, addr: opt.Addr, timeout: opt.Timeout, tls: conf}
}

func (s *streamUpstream) String() string { return s.name }

// Close closes the idle connections. The upstream stays usable.
func (s *streamUpstream) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, ic := range idle {
		ic.conn.Close()
	}
	return nil
}

func (s *streamUpstream) Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	r, err := s.exchange(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	return r, nil
}

func (s *streamUpstream) exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	wire, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("pack query: %w", err)
	}
	if len(wire) > dns.MaxMsgSize {
		return nil, fmt.Errorf("pack query: %d bytes is too large", len(wire))
	}
	framed := make([]byte, 2+len(wire))
	binary.BigEndian.PutUint16(framed, uint16(len(wire)))
	copy(framed[2:], wire)

	for {
		conn, reused, err := s.get(ctx)
		if err != nil {
			return nil, ctxErr(ctx, fmt.Errorf("dial: %w", err))
		}
		r, ok, err := roundTrip(ctx, conn, m, framed)
		if err == nil && ok {
			s.put(conn)
		} else {
			conn.Close()
		}
		if err == nil {
			return r, nil
		}
		// The server may have closed an idle connection since its last
		// use; that is no failure of the upstream, so try again on another
		// one. The loop ends: every turn closes a pooled connection, and a
		// fresh one is not retried.
		if !reused || ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrMismatch) {
			return nil, err
		}
	}
}

// roundTrip writes the framed query and reads the answer. ok reports whether
// conn may be reused.
func roundTrip(ctx context.Context, conn net.Conn, m *dns.Msg, framed []byte) (r *dns.Msg, ok bool, err error) {
	stop := watch(ctx, conn)
	defer func() {
		if !stop() {
			ok = false
		}
	}()
	if _, err := conn.Write(framed); err != nil {
		return nil, false, ctxErr(ctx, fmt.Errorf("write: %w", err))
	}
	var hdr [2]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return nil, false, ctxErr(ctx, fmt.Errorf("read: %w", err))
	}
	buf := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, false, ctxErr(ctx, fmt.Errorf("read: %w", err))
	}
	r = new(dns.Msg)
	if err := r.Unpack(buf); err != nil {
		return nil, false, fmt.Errorf("unpack answer: %w", err)
	}
	if err := check(m, r); err != nil {
		return nil, false, err
	}
	return r, true, nil
}

// get returns an idle connection, or dials a new one.
func (s *streamUpstream) get(ctx context.Context) (conn net.Conn, reused bool, err error) {
	now := time.Now()
	s.mu.Lock()
	// Oldest first: drop the prefix idle too long, take the freshest.
	n := 0
	for n < len(s.idle) && now.Sub(s.idle[n].since) > idleTimeout {
		n++
	}
	var stale []idleConn
	if n > 0 {
		stale = slices.Clone(s.idle[:n])
		s.idle = slices.Delete(s.idle, 0, n)
	}
	if last := len(s.idle) - 1; last >= 0 {
		conn = s.idle[last].conn
		s.idle = s.idle[:last]
	}
	s.mu.Unlock()
	for _, ic := range stale {
		ic.conn.Close()
	}
	if conn != nil {
		return conn, true, nil
	}
	conn, err = s.dial(ctx)
	return conn, false, err
}

func (s *streamUpstream) dial(ctx context.Context) (net.Conn, error) {
	if s.tls == nil {
		return s.dialer.DialContext(ctx, "tcp", s.addr)
	}
	d := tls.Dialer{NetDialer: &s.dialer, Config: s.tls}
	return d.DialContext(ctx, "tcp", s.addr)
}

// put keeps conn for reuse, or closes it when enough are idle.
func (s *streamUpstream) put(conn net.Conn) {
	conn.SetDeadline(time.Time{})
	s.mu.Lock()
	if len(s.idle) < maxIdleConns {
		s.idle = append(s.idle, idleConn{conn, time.Now()})
		conn = nil
	}
	s.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}
