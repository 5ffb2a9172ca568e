package plainfwd

import (
	"context"
	"errors"

	"github.com/havendns/haven/internal/nullresp"
)

// Server serves a Forwarder over UDP and TCP on one port with two
// dns.Servers left at the library's defaults (nullresp's listener): one
// UDP socket read by the default serve loop (a goroutine per query), one
// TCP listener.
type Server struct {
	*nullresp.Server
	fwd *Forwarder
}

// Listen binds UDP and TCP on addr ("127.0.0.1:0" picks a port free for
// both) and serves f until Shutdown. It returns once both are listening.
func Listen(addr string, f *Forwarder) (*Server, error) {
	s, err := nullresp.Listen(addr, f)
	if err != nil {
		return nil, err
	}
	return &Server{Server: s, fwd: f}, nil
}

// Shutdown stops both listeners, then closes the forwarder's sockets.
func (s *Server) Shutdown(ctx context.Context) error {
	return errors.Join(s.Server.Shutdown(ctx), s.fwd.Close())
}
