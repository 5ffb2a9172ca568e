package plainfwd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
)

// Server serves a Forwarder over UDP and TCP on one port with two
// dns.Servers left at the library's defaults: one UDP socket read by the
// default serve loop (a goroutine per query), one TCP listener.
type Server struct {
	fwd  *Forwarder
	addr string
	udp  *dns.Server
	tcp  *dns.Server
	done chan error
}

// Listen binds UDP and TCP on addr ("127.0.0.1:0" picks a port free for
// both) and serves f until Shutdown. It returns once both are listening.
func Listen(addr string, f *Forwarder) (*Server, error) {
	var lastErr error
	// With port 0 the kernel picks the UDP port; the same TCP port may be
	// taken, so try a few.
	for range 20 {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, fmt.Errorf("plainfwd: listen udp %s: %w", addr, err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			lastErr = err
			continue
		}
		return serve(pc, ln, f)
	}
	return nil, fmt.Errorf("plainfwd: no port free for both UDP and TCP: %w", lastErr)
}

func serve(pc net.PacketConn, ln net.Listener, f *Forwarder) (*Server, error) {
	s := &Server{
		fwd:  f,
		addr: pc.LocalAddr().String(),
		udp:  &dns.Server{PacketConn: pc, Handler: f},
		tcp:  &dns.Server{Listener: ln, Handler: f},
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
			return nil, fmt.Errorf("plainfwd: serve: %w", err)
		case <-time.After(5 * time.Second):
			_ = s.Shutdown(context.Background())
			return nil, errors.New("plainfwd: server did not start")
		}
	}
	return s, nil
}

// Addr is the bound host:port, the same for UDP and TCP.
func (s *Server) Addr() string { return s.addr }

// Shutdown stops both listeners, then closes the forwarder's sockets.
func (s *Server) Shutdown(ctx context.Context) error {
	return errors.Join(s.udp.ShutdownContext(ctx), s.tcp.ShutdownContext(ctx), s.fwd.Close())
}
