// Package api serves Haven's local HTTP API: runtime control (pause, allow,
// resume), decision explanations, status, the query log and its
// statistics, as JSON; and it mounts the web console and the metrics.
//
// The package owns the HTTP layer only (routing, authentication, request
// limits, the wire format), the token file, and the console's password,
// login, sessions and CSRF tokens; what the requests do is up to a
// Controller, which internal/haven implements. Client is the other end,
// used by the haven command line.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/havendns/haven/querylog"
	"github.com/havendns/haven/state"
)

// Controller is what the API and the web console drive; internal/haven
// implements it.
//
// Errors wrapping ErrNotFound, ErrInvalid or ErrUnavailable are answered
// with 404, 400 and 503; any other error is a 500. Every error's text is
// sent to the (authenticated) caller, so it should read well on its own.
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
	// Status reports lists, upstreams, the cache and the query log.
	Status(ctx context.Context) (Status, error)
	// RefreshLists fetches every list source again.
	RefreshLists(ctx context.Context) error

	// Devices returns the configured devices, in config order, each with
	// its profile, its current state and its active exceptions.
	Devices(ctx context.Context) ([]Device, error)
	// Search, Stats and Top read the query log (see package querylog);
	// without one they return an error wrapping ErrUnavailable.
	Search(ctx context.Context, f querylog.Filter) (rows []querylog.Row, next int64, err error)
	Stats(ctx context.Context, from, to time.Time, bucket querylog.Bucket, by string) ([]querylog.Stat, error)
	Top(ctx context.Context, from, to time.Time, blocked bool, device string, n int) ([]querylog.Count, error)
	// DeleteDeviceLog deletes every logged query of one device and returns
	// how many there were.
	DeleteDeviceLog(ctx context.Context, device string) (int64, error)
	// Reload reads the config file again and switches to it. A config that
	// does not load is rejected with an error wrapping ErrInvalid whose
	// text lists every problem as "file:line: reason", one per line; the
	// old config keeps serving.
	Reload(ctx context.Context) error
}

// Errors a Controller returns, wrapped, for mistakes of the caller.
var (
	ErrNotFound    = errors.New("not found")       // unknown target: 404
	ErrInvalid     = errors.New("invalid request") // bad argument: 400
	ErrUnavailable = errors.New("unavailable")     // e.g. the query log is off: 503
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

	// Console serves the web console (package web) at every path outside
	// /api/ and /metrics, behind the login page; nil: no console.
	Console http.Handler
	// PasswordHash is the console password's hash (HashPassword, or
	// `haven password`). Empty: Start reads DataDir/console.password,
	// creating it with a random password, logged once, on first start.
	PasswordHash string
	DataDir      string
	// Metrics is served at /metrics (nil: none), to bearer tokens and
	// console sessions only unless PublicMetrics is set.
	Metrics       http.Handler
	PublicMetrics bool
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

	console       http.Handler
	metrics       http.Handler
	publicMetrics bool
	dataDir       string
	pwErr         error                        // a PasswordHash that does not parse
	password      atomic.Pointer[passwordHash] // nil: no console login
	sessions      *sessions
	limiter       *loginLimiter
	verifying     chan struct{} // bounds concurrent password checks (CPU)

	mu  sync.Mutex
	ln  net.Listener
	srv *http.Server
}

// New returns a server for opt. It does not listen until Start.
func New(opt Options) *Server {
	s := &Server{
		ctl:           opt.Controller,
		token:         hashToken(opt.Token),
		log:           opt.Logger,
		now:           opt.Now,
		addr:          opt.Addr,
		console:       opt.Console,
		metrics:       opt.Metrics,
		publicMetrics: opt.PublicMetrics,
		dataDir:       opt.DataDir,
		verifying:     make(chan struct{}, maxVerifying),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if opt.PasswordHash != "" {
		ph, err := parsePasswordHash(opt.PasswordHash)
		if err != nil {
			s.pwErr = fmt.Errorf("api: console password hash: %w", err)
		} else {
			s.password.Store(&ph)
		}
	}
	s.sessions = newSessions(s.now)
	s.limiter = newLoginLimiter(s.now)
	s.handler = s.routes()
	return s
}

// Handler returns the server's handler, for serving it from another
// server: the API under /api/, /metrics, and the console (if any) at every
// other path. Without a console, other paths are 404s.
func (s *Server) Handler() http.Handler { return s.handler }

// Start binds the address and serves in the background. With a console
// and no password hash, it reads (or creates) the one in the data
// directory first.
func (s *Server) Start() error {
	if !s.token.set {
		return errors.New("api: no token")
	}
	if s.ctl == nil {
		return errors.New("api: no controller")
	}
	if s.pwErr != nil {
		return s.pwErr
	}
	if err := s.loadPassword(); err != nil {
		return err
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

// loadPassword sets the console password from the data directory when the
// options gave none. A password generated now is logged this once: only
// its hash is kept.
func (s *Server) loadPassword() error {
	if s.console == nil || s.password.Load() != nil || s.dataDir == "" {
		return nil
	}
	hash, generated, err := LoadOrCreatePassword(s.dataDir)
	if err != nil {
		return err
	}
	ph, err := parsePasswordHash(hash)
	if err != nil {
		return fmt.Errorf("api: %s: %w", filepath.Join(s.dataDir, PasswordFile), err)
	}
	s.password.Store(&ph)
	if generated != "" {
		s.log.Warn("console password generated: "+generated+"; change it with haven password",
			"file", filepath.Join(s.dataDir, PasswordFile))
	}
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
