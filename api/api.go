// Package api serves Haven's local HTTP API: runtime control (pause, allow,
// resume), decision explanations, and status, as JSON.
//
// The package owns the HTTP layer only (routing, authentication, request
// limits, the wire format) and the token file; what the requests do is up
// to a Controller, which internal/haven implements. Client is the other
// end, used by the haven command line.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/havendns/haven/state"
)

// Controller is what the API drives; internal/haven implements it.
//
// Errors wrapping ErrNotFound or ErrInvalid are the caller's fault and are
// answered with 404 and 400; any other error is a 500. Every error's text
// is sent to the (authenticated) caller, so it should read well on its own.
type Controller interface {
	// Pause blocks everything but the allow list for target (a device or
	// profile name) until the given time.
	Pause(ctx context.Context, target string, until time.Time, by string) (state.Entry, error)
	// Allow lets target reach what (a service, category or domain) until
	// the given time, whatever its policy or a pause says.
	Allow(ctx context.Context, target, what string, until time.Time, by string) (state.Entry, error)
	// Resume ends every pause and exception of target.
	Resume(ctx context.Context, target string) (removed int, err error)
	// Entries returns the active pauses and exceptions.
	Entries(ctx context.Context) ([]state.Entry, error)
	// Explain says what a query would get and why. client is an IP, a MAC
	// or a client id ("" = the default profile); the result is
	// JSON-encodable.
	Explain(ctx context.Context, client, name, qtype string) (any, error)
	// Status reports the server's state; the result is JSON-encodable.
	Status(ctx context.Context) (any, error)
	// RefreshLists fetches every list source again.
	RefreshLists(ctx context.Context) error
}

// Errors a Controller returns, wrapped, for mistakes of the caller.
var (
	ErrNotFound = errors.New("not found")       // unknown target: 404
	ErrInvalid  = errors.New("invalid request") // bad argument: 400
)

// Options configure a Server.
type Options struct {
	Addr       string // host:port to listen on; port 0 picks a free one
	Controller Controller
	// Token is the bearer token every endpoint but GET /api/v1/health
	// requires. An empty token locks every other endpoint.
	Token  string
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now; its zone is the one "until": "HH:MM" is read in
}

// Timeouts of the HTTP server. The write timeout is per request; the list
// refresh endpoint extends its own, as fetching lists takes longer.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	refreshTimeout    = 5 * time.Minute
	maxHeaderBytes    = 16 << 10
)

// Server is the HTTP API server.
type Server struct {
	ctl     Controller
	token   tokenHash
	log     *slog.Logger
	now     func() time.Time
	addr    string
	handler http.Handler

	mu  sync.Mutex
	ln  net.Listener
	srv *http.Server
}

// New returns a server for opt. It does not listen until Start.
func New(opt Options) *Server {
	s := &Server{
		ctl:   opt.Controller,
		token: hashToken(opt.Token),
		log:   opt.Logger,
		now:   opt.Now,
		addr:  opt.Addr,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.handler = s.routes()
	return s
}

// Handler returns the API's handler, for serving it from another server;
// it handles the paths under /api/ and answers 404 to the rest.
func (s *Server) Handler() http.Handler { return s.handler }

// Start binds the address and serves in the background.
func (s *Server) Start() error {
	if !s.token.set {
		return errors.New("api: no token")
	}
	if s.ctl == nil {
		return errors.New("api: no controller")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("api: already started")
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.ln, s.srv = ln, srv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("api server stopped", "err", err)
		}
	}()
	s.log.Info("http api listening", "addr", ln.Addr().String())
	return nil
}

// Addr reports the bound address once started, the configured one before.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.addr
}

// Shutdown stops accepting requests and waits, until ctx ends, for those in
// flight.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}
