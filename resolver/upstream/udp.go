package upstream

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// udpUpstream sends each query from a fresh connected UDP socket, so every
// query gets a random source port and the kernel drops datagrams from any
// other address. A truncated answer is retried over TCP.
type udpUpstream struct {
	name    string
	addr    string
	timeout time.Duration
	dialer  net.Dialer
	tcp     *streamUpstream // for truncated answers
	bufs    sync.Pool       // *[]byte of dns.MaxMsgSize: any datagram fits
}

func newUDP(name string, opt Options) *udpUpstream {
	u := &udpUpstream{
		name:    name,
		addr:    opt.Addr,
		timeout: opt.Timeout,
		tcp:     newStream(name, opt, nil),
	}
	u.bufs.New = func() any {
		b := make([]byte, dns.MaxMsgSize)
		return &b
	}
	return u
}

func (u *udpUpstream) String() string { return u.name }

// Close releases the idle connections kept for TCP retries.
func (u *udpUpstream) Close() error { return u.tcp.Close() }

func (u *udpUpstream) Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, u.timeout)
	defer cancel()
	r, err := u.exchange(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u.name, err)
	}
	if !r.Truncated {
		return r, nil
	}
	r, err = u.tcp.exchange(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("%s: TCP retry of truncated answer: %w", u.name, err)
	}
	return r, nil
}

func (u *udpUpstream) exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	wire, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("pack query: %w", err)
	}
	conn, err := u.dialer.DialContext(ctx, "udp", u.addr)
	if err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("dial: %w", err))
	}
	defer conn.Close()
	stop := watch(ctx, conn)
	defer stop()
	if _, err := conn.Write(wire); err != nil {
		return nil, ctxErr(ctx, fmt.Errorf("write: %w", err))
	}

	bp := u.bufs.Get().(*[]byte)
	defer u.bufs.Put(bp)
	buf := *bp
	// A datagram that is not the answer (garbage, another ID, another
	// question) may be an off-path spoofing attempt: ignore it and keep
	// waiting for the real answer until the deadline.
	var rejected error
	for {
		n, err := conn.Read(buf)
		if err != nil {
			err = ctxErr(ctx, fmt.Errorf("read: %w", err))
			if rejected != nil {
				return nil, fmt.Errorf("%w, then %w", rejected, err)
			}
			return nil, err
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil {
			rejected = fmt.Errorf("%w: unpack: %w", ErrMismatch, err)
			continue
		}
		if err := check(m, r); err != nil {
			rejected = err
			continue
		}
		return r, nil
	}
}
