// Package upstream forwards queries to upstream resolvers over UDP, TCP,
// DNS-over-TLS and DNS-over-HTTPS, with failover, health tracking and
// conditional forwarding.
//
// An Upstream is one resolver on one transport (New). A Group tries several
// in order of health and backs off from failing ones. The Forwarder is the
// last step of Haven's chain: it builds a clean query from the client's
// question and sends it to the Group its routes pick for the name.
package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Upstream is one upstream resolver.
type Upstream interface {
	// Exchange sends m and returns the answer, checked to be the answer to
	// m (see ErrMismatch). m is not modified, and not kept once Exchange
	// returns: the caller may reuse it.
	Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error)
	// String names the upstream for logs and traces: its URL.
	String() string
}

// Options describe one upstream.
type Options struct {
	Proto      string        // "udp", "tcp", "tls" or "https"
	Addr       string        // host:port to dial; for https "" means the URL's host
	URL        string        // for https the endpoint; for the others the URL as written, for String
	ServerName string        // TLS server name; "" means the host of URL (https) or Addr (tls)
	TLSConfig  *tls.Config   // optional base TLS configuration (tests set RootCAs)
	Timeout    time.Duration // per attempt; 0 means 2s
}

// ErrMismatch is returned (wrapped) when an upstream's answer does not belong
// to the query: wrong ID, not a response, or another question.
var ErrMismatch = errors.New("mismatched answer")

const (
	defaultTimeout = 2 * time.Second

	// ednsSize is the UDP payload size Haven advertises upstream
	// (DNS flag day 2020: no IP fragmentation).
	ednsSize = 1232

	// maxIdleConns is how many idle TCP, TLS or HTTPS connections are kept
	// per upstream for reuse.
	maxIdleConns = 4

	// idleTimeout is how long an idle connection is kept. Servers close
	// idle connections after a few seconds to minutes; one closed meanwhile
	// is detected on use and replaced.
	idleTimeout = 10 * time.Second
)

// New returns the upstream opt describes. The result also implements
// io.Closer, releasing idle connections; over UDP it closes the sockets,
// failing the queries waiting on them.
func New(opt Options) (Upstream, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = defaultTimeout
	}
	name := opt.URL
	if name == "" {
		name = opt.Proto + "://" + opt.Addr
	}
	switch opt.Proto {
	case "udp", "tcp", "tls":
		host, err := splitAddr(opt.Addr)
		if err != nil {
			return nil, fmt.Errorf("upstream %s: %w", name, err)
		}
		if opt.Proto == "udp" {
			return newUDP(name, opt), nil
		}
		var conf *tls.Config
		if opt.Proto == "tls" {
			conf = tlsConfig(opt, host)
		}
		return newStream(name, opt, conf), nil
	case "https":
		u, err := newDoH(name, opt)
		if err != nil {
			return nil, fmt.Errorf("upstream %s: %w", name, err)
		}
		return u, nil
	}
	return nil, fmt.Errorf("upstream %s: unknown protocol %q (want udp, tcp, tls or https)", name, opt.Proto)
}

// splitAddr checks that addr is host:port and returns the host.
func splitAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address: %w", err)
	}
	if host == "" || port == "" {
		return "", fmt.Errorf("address %q: want host:port", addr)
	}
	return host, nil
}

// tlsConfig returns the TLS client configuration for opt: a copy of the
// base, with the server name and sane defaults filled in.
func tlsConfig(opt Options, host string) *tls.Config {
	c := &tls.Config{}
	if opt.TLSConfig != nil {
		c = opt.TLSConfig.Clone()
	}
	switch {
	case opt.ServerName != "":
		c.ServerName = opt.ServerName
	case c.ServerName == "":
		c.ServerName = host
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	if c.ClientSessionCache == nil {
		// Resumption saves a full handshake when a connection is redialled.
		c.ClientSessionCache = tls.NewLRUClientSessionCache(maxIdleConns)
	}
	return c
}

// check reports whether resp is the answer to req.
func check(req, resp *dns.Msg) error {
	switch {
	case resp.Id != req.Id:
		return fmt.Errorf("%w: ID %d, want %d", ErrMismatch, resp.Id, req.Id)
	case !resp.Response:
		return fmt.Errorf("%w: not a response", ErrMismatch)
	case resp.Opcode != req.Opcode:
		return fmt.Errorf("%w: opcode %d, want %d", ErrMismatch, resp.Opcode, req.Opcode)
	case len(resp.Question) != len(req.Question):
		return fmt.Errorf("%w: %d questions, want %d", ErrMismatch, len(resp.Question), len(req.Question))
	}
	for i, q := range req.Question {
		a := resp.Question[i]
		if a.Qtype != q.Qtype || a.Qclass != q.Qclass || !strings.EqualFold(a.Name, q.Name) {
			return fmt.Errorf("%w: question %s, want %s", ErrMismatch, question(a), question(q))
		}
	}
	return nil
}

// watch makes conn's I/O follow ctx: its deadline now, and an immediate
// wake-up if ctx is cancelled. stop reports false if the wake-up fired, in
// which case conn's deadline is spoilt and it must not be reused.
func watch(ctx context.Context, conn net.Conn) (stop func() bool) {
	d, _ := ctx.Deadline()
	conn.SetDeadline(d)
	return context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
}

// ctxErr prefers the context's error to the I/O error it caused ("i/o
// timeout" says less than "context deadline exceeded").
func ctxErr(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if cerr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		// Socket deadlines come from the context only, but its own timer
		// may not have fired yet.
		cerr = context.DeadlineExceeded
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	return err
}

func question(q dns.Question) string {
	return q.Name + " " + dns.Class(q.Qclass).String() + " " + dns.Type(q.Qtype).String()
}
