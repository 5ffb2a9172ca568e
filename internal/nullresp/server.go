package nullresp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
)

// Server serves a dns.Handler over UDP and TCP on one loopback port, set
// up as Haven's own server is (one UDP socket, the miekg/dns defaults), so
// that it measures what that design costs and nothing else.
type Server struct {
	addr string
	udp  *dns.Server
	tcp  *dns.Server
	done chan error
}

// Listen binds UDP and TCP on addr ("127.0.0.1:0" picks a port free for
// both) and serves h until Shutdown. It returns once both are listening.
func Listen(addr string, h dns.Handler) (*Server, error) {
	var lastErr error
	// With port 0 the kernel picks the UDP port; the same TCP port may be
	// taken, so try a few.
	for range 20 {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, fmt.Errorf("nullresp: listen udp %s: %w", addr, err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			lastErr = err
			continue
		}
		return serve(pc, ln, h)
	}
	return nil, fmt.Errorf("nullresp: no port free for both UDP and TCP: %w", lastErr)
}

func serve(pc net.PacketConn, ln net.Listener, h dns.Handler) (*Server, error) {
	s := &Server{
		addr: pc.LocalAddr().String(),
		udp:  &dns.Server{PacketConn: pc, Handler: h},
		tcp:  &dns.Server{Listener: ln, Handler: h},
		done: make(chan error, 2),
	}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { s.done <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-s.done:
			_ = s.Shutdown(context.Background())
			return nil, fmt.Errorf("nullresp: serve: %w", err)
		case <-time.After(5 * time.Second):
			_ = s.Shutdown(context.Background())
			return nil, errors.New("nullresp: server did not start")
		}
	}
	return s, nil
}

// Addr is the bound host:port, the same for UDP and TCP.
func (s *Server) Addr() string { return s.addr }

// Shutdown stops both listeners.
func (s *Server) Shutdown(ctx context.Context) error {
	return errors.Join(s.udp.ShutdownContext(ctx), s.tcp.ShutdownContext(ctx))
}
