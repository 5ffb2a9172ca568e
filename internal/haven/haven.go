// Package haven assembles a running Haven from a validated config: the
// blocklist store, the resolver chain and the listeners. It is the one place
// that knows the order of the chain and converts config types into the
// types of the packages that do the work.
package haven

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/havendns/haven/api"
	"github.com/havendns/haven/blocklist"
	"github.com/havendns/haven/config"
	"github.com/havendns/haven/metrics"
	"github.com/havendns/haven/policy"
	"github.com/havendns/haven/policy/client"
	"github.com/havendns/haven/querylog"
	"github.com/havendns/haven/resolver"
	"github.com/havendns/haven/resolver/cache"
	"github.com/havendns/haven/resolver/upstream"
	"github.com/havendns/haven/server"
	"github.com/havendns/haven/state"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Options are the parts of a running Haven that do not come from the config
// file. The zero value is what the haven command uses.
type Options struct {
	Logger      *slog.Logger
	HTTPClient  *http.Client // for list downloads; nil = the store's default
	UpstreamTLS *tls.Config  // base TLS config for tls:// and https:// upstreams (tests set RootCAs)
	Now         func() time.Time
	Version     string // reported by the status API
	// Adjust, if set, is applied to every config loaded on reload, as the
	// command line's --listen and --upstream are to the first.
	Adjust func(*config.Config)
}

// Haven is one running filter.
type Haven struct {
	opt   Options
	log   *slog.Logger
	store *blocklist.Store

	mu  sync.Mutex     // guards cfg and serializes reloads
	cfg *config.Config // the config in force

	filter *policy.Filter
	tail   atomic.Pointer[tail]
	guard  guard
	server *server.Server
	state  state.Store
	// neighbors is nil unless the config asks for the neighbour table.
	neighbors *client.Neighbors
	api       *api.Server   // nil unless the config has an http address
	qlog      *querylog.Log // nil without data_dir or with the log off
	registry  *prometheus.Registry
	metrics   *metrics.Metrics
	logLevel  atomic.Pointer[map[string]config.LogLevel] // per profile

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New builds a Haven from cfg. Nothing is bound or fetched until Start.
func New(cfg *config.Config, opt Options) (*Haven, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	h := &Haven{opt: opt, log: opt.Logger, cfg: cfg}
	if cfg.Neighbors {
		h.neighbors = client.NewNeighbors(client.NeighborOptions{Logger: opt.Logger})
	}
	h.store = blocklist.NewStore(blocklist.StoreOptions{
		DataDir: cfg.DataDir,
		Client:  opt.HTTPClient,
		Logger:  opt.Logger,
		Now:     opt.Now,
	})
	if err := h.buildChain(cfg); err != nil {
		return nil, err
	}
	h.guard.set(cfg, h)
	h.setLogLevels(cfg)
	h.newMetrics()
	var err error
	if h.server, err = h.newServer(cfg); err != nil {
		return nil, err
	}
	return h, nil
}

// newServer makes the DNS listeners of cfg, unbound, serving the chain.
func (h *Haven) newServer(cfg *config.Config) (*server.Server, error) {
	sopt := server.Options{
		Listen:      cfg.Listen,
		TLSListen:   cfg.TLS.Listen,
		HTTPSListen: cfg.HTTPS.Listen,
		ServerName:  cfg.TLS.ServerName,
		Resolver:    h.filter,
		Logger:      h.log,
		Timeout:     cfg.Upstream.Timeout + 2*time.Second,
		Observe:     h.observe,
		Guard:       &h.guard,
		Refused:     h.refused,
		BatchUDP:    cfg.UDPBatch,
		UDPReaders:  cfg.UDPReaders,
		Subject:     h.subject,
		Prefetch:    h.prefetch,
		// The chain's first attempt, with two upstreams, has as long.
		PrefetchWait: cfg.Upstream.Timeout / 2,
		FastAnswers:  min(4*cfg.Cache.Size, 1<<19),
		Now:          h.opt.Now,
	}
	if len(cfg.TLS.Listen) > 0 || len(cfg.HTTPS.Listen) > 0 {
		var names []string
		if cfg.TLS.ServerName != "" {
			names = append(names, cfg.TLS.ServerName)
		}
		var err error
		sopt.TLSConfig, err = server.LoadOrCreateCertificate(cfg.Cert.Cert, cfg.Cert.Key, cfg.DataDir, names, h.log)
		if err != nil {
			return nil, err
		}
	}
	return server.New(sopt), nil
}

// openState opens the runtime state store: a file in the data directory,
// or memory when there is none.
func (h *Haven) openState(ctx context.Context) error {
	cfg := h.config()
	if cfg.DataDir == "" {
		h.state = state.NewMemory()
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return fmt.Errorf("data_dir: %w", err)
		}
		f, err := state.OpenFile(filepath.Join(cfg.DataDir, "state.json"), state.FileOptions{Now: h.opt.Now, Logger: h.log})
		if err != nil {
			return err
		}
		h.state = f
	}
	return h.reloadState(ctx)
}

// pruneState drops expired pauses and exceptions from the store now and
// then. Expired entries stop applying on time anyway (the policy checks
// their end on every query); this only keeps the store small.
func (h *Haven) pruneState(ctx context.Context) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := h.state.Prune(ctx); err != nil && ctx.Err() == nil {
				h.log.Warn("prune runtime state", "err", err)
			}
		}
	}
}

// reloadState rebuilds the policy's view of the runtime state from the
// store, after every change.
func (h *Haven) reloadState(ctx context.Context) error {
	entries, err := h.state.List(ctx)
	if err != nil {
		return fmt.Errorf("runtime state: %w", err)
	}
	h.filter.SetState(state.NewSnapshot(entries, h.opt.Now()))
	return nil
}

// buildChain puts the steps in their one order:
//
//	policy → cache → forwarder
//
// Policy comes first so that a blocked name never reaches the cache or an
// upstream, and so that one shared cache can serve every client whatever
// its policy; the cache comes before the forwarder so that it can serve
// stale answers when every upstream fails.
func (h *Haven) buildChain(cfg *config.Config) error {
	t, err := h.buildTail(cfg)
	if err != nil {
		return err
	}
	h.tail.Store(t)
	pc, err := policyConfig(cfg)
	if err != nil {
		return err
	}
	popt := policy.Options{Now: h.opt.Now}
	if h.neighbors != nil {
		popt.Neighbors = h.neighbors
	}
	// The policy's next step is whatever tail is in force, so a reload can
	// swap upstreams and cache under it without rebuilding the policy.
	next := resolver.Func(func(ctx context.Context, q *resolver.Query) (*dns.Msg, error) {
		return h.tail.Load().Resolve(ctx, q)
	})
	h.filter, err = policy.New(next, h.store, pc, popt)
	return err
}

// tail is the part of the chain behind the policy, cache → forwarder,
// rebuilt whole when a reload changes upstreams or cache settings.
type tail struct {
	resolver.Resolver
	cache  *cache.Cache // nil when the cache is disabled
	fwd    *upstream.Forwarder
	groups []*upstream.Group
	key    string // the config it was built from, to tell whether a reload changes it
}

func (h *Haven) buildTail(cfg *config.Config) (*tail, error) {
	t := &tail{key: tailKey(cfg)}
	def, err := h.group(t, cfg.Upstreams, cfg.Upstream.Timeout)
	if err != nil {
		return nil, err
	}
	var routes []upstream.Route
	for _, c := range cfg.Conditional {
		g, err := h.group(t, c.Upstreams, cfg.Upstream.Timeout)
		if err != nil {
			t.close()
			return nil, err
		}
		routes = append(routes, upstream.Route{Domain: c.Domain, Group: g})
	}
	t.fwd = upstream.NewForwarder(def, routes)
	t.Resolver = t.fwd
	if cfg.Cache.Size > 0 {
		t.cache = cache.New(t.Resolver, cache.Options{
			Size:       cfg.Cache.Size,
			MinTTL:     cfg.Cache.MinTTL,
			MaxTTL:     cfg.Cache.MaxTTL,
			ServeStale: cfg.Cache.ServeStale,
			Now:        h.opt.Now,
		})
		t.Resolver = t.cache
	}
	return t, nil
}

func tailKey(cfg *config.Config) string {
	return fmt.Sprintf("%v|%v|%v|%v", cfg.Upstreams, cfg.Conditional, cfg.Cache, cfg.Upstream)
}

// close releases the tail's idle upstream connections.
func (t *tail) close() {
	for _, g := range t.groups {
		g.Close()
	}
}

func (h *Haven) group(t *tail, ups []config.Upstream, timeout time.Duration) (*upstream.Group, error) {
	var list []upstream.Upstream
	for _, u := range ups {
		up, err := upstream.New(upstream.Options{
			Proto:      u.Proto,
			Addr:       u.Addr,
			URL:        u.URL,
			ServerName: u.ServerName,
			TLSConfig:  h.opt.UpstreamTLS,
			Timeout:    timeout,
		})
		if err != nil {
			return nil, err
		}
		list = append(list, up)
	}
	g := upstream.NewGroup(list, upstream.GroupOptions{Timeout: timeout, Logger: h.log, Now: h.opt.Now})
	t.groups = append(t.groups, g)
	return g, nil
}

// subject tells the server's fast path whom the policy decides for when
// addr asks; with the cache off it turns the fast path off, which is a
// cache of answers too.
func (h *Haven) subject(addr netip.Addr) (who string, version uint64) {
	if h.tail.Load().cache == nil {
		return "", 0
	}
	return h.filter.Subject(addr)
}

// prefetch is the server's Options.Prefetch: q may go upstream from the
// server itself if the cache has no answer for it, the policy forwards it
// unchanged, and its upstream is plain UDP.
func (h *Haven) prefetch(q *resolver.Query, id uint16, buf []byte) ([]byte, netip.AddrPort, string, bool) {
	t := h.tail.Load()
	if t.cache == nil || t.cache.Covers(q.Msg) || !h.filter.Forwards(q) {
		return nil, netip.AddrPort{}, "", false
	}
	to, name, ok := t.fwd.Target(q.Name())
	if !ok {
		return nil, netip.AddrPort{}, "", false
	}
	w, err := upstream.PackQuery(buf, id, q.Msg)
	if err != nil {
		return nil, netip.AddrPort{}, "", false
	}
	return w, to, name, true
}

// LoadLists gives the store its sources and builds the first matcher from
// what is on this machine (files, built-in lists, the disk cache), without
// the network.
func (h *Haven) LoadLists(ctx context.Context) error {
	if err := h.store.SetSources(ctx, Sources(h.config())); err != nil {
		return err
	}
	h.store.Load(ctx)
	return nil
}

// Start loads the lists from what is on disk, binds the listeners, and then
// refreshes the lists in the background: filtered answers are served from
// the first query on, before any download.
func (h *Haven) Start(ctx context.Context) error {
	if err := h.LoadLists(ctx); err != nil {
		return err
	}
	if err := h.openState(ctx); err != nil {
		return err
	}
	if err := h.openQueryLog(); err != nil {
		return err
	}
	if err := h.server.Start(); err != nil {
		return err
	}
	if err := h.startAPI(); err != nil {
		_ = h.server.Shutdown(ctx)
		return err
	}
	ctx, h.cancel = context.WithCancel(ctx)
	if h.neighbors != nil {
		h.wg.Add(1)
		go func() { defer h.wg.Done(); h.neighbors.Run(ctx) }()
	}
	h.wg.Add(1)
	go func() { defer h.wg.Done(); h.pruneState(ctx) }()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if err := h.store.Refresh(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("list refresh", "err", err)
		}
		h.store.Run(ctx, h.config().Refresh)
	}()
	return nil
}

// config returns the config in force.
func (h *Haven) config() *config.Config {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cfg
}

// Addr returns the first bound listen address ("127.0.0.1:5353"), for
// tests and logs; "" before Start.
func (h *Haven) Addr() string {
	a := h.srv().Addrs()
	if len(a) == 0 {
		return ""
	}
	return a[0].String()
}

// Addrs returns every bound listen address.
func (h *Haven) Addrs() []net.Addr { return h.srv().Addrs() }

// srv returns the DNS listeners in force (a reload may replace them).
func (h *Haven) srv() *server.Server {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.server
}

// Store returns the blocklist store.
func (h *Haven) Store() *blocklist.Store { return h.store }

// Filter returns the policy step.
func (h *Haven) Filter() *policy.Filter { return h.filter }

// Cache returns the response cache, or nil when it is disabled.
func (h *Haven) Cache() *cache.Cache { return h.tail.Load().cache }

// Close stops the listeners (letting queries in flight finish) and the
// background refresh.
func (h *Haven) Close(ctx context.Context) error {
	if h.cancel != nil {
		h.cancel()
	}
	err := h.srv().Shutdown(ctx)
	if h.api != nil {
		err = errors.Join(err, h.api.Shutdown(ctx))
	}
	h.wg.Wait()
	if h.state != nil {
		err = errors.Join(err, h.state.Close())
	}
	if h.qlog != nil {
		err = errors.Join(err, h.qlog.Close()) // flushes what is queued
	}
	h.tail.Load().close()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
