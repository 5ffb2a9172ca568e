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
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/havendns/haven/api"
	"github.com/havendns/haven/blocklist"
	"github.com/havendns/haven/config"
	"github.com/havendns/haven/policy"
	"github.com/havendns/haven/policy/client"
	"github.com/havendns/haven/resolver"
	"github.com/havendns/haven/resolver/cache"
	"github.com/havendns/haven/resolver/upstream"
	"github.com/havendns/haven/server"
	"github.com/havendns/haven/state"
)

// Options are the parts of a running Haven that do not come from the config
// file. The zero value is what the haven command uses.
type Options struct {
	Logger      *slog.Logger
	HTTPClient  *http.Client // for list downloads; nil = the store's default
	UpstreamTLS *tls.Config  // base TLS config for tls:// and https:// upstreams (tests set RootCAs)
	Now         func() time.Time
	Version     string // reported by the status API
}

// Haven is one running filter.
type Haven struct {
	opt   Options
	log   *slog.Logger
	cfg   *config.Config
	store *blocklist.Store

	filter *policy.Filter
	cache  *cache.Cache // nil when the cache is disabled
	groups []*upstream.Group
	server *server.Server
	state  state.Store
	// neighbors is nil unless the config asks for the neighbour table.
	neighbors *client.Neighbors
	api       *api.Server // nil unless the config has an http address

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
	chain, err := h.buildChain(cfg)
	if err != nil {
		return nil, err
	}
	sopt := server.Options{
		Listen:      cfg.Listen,
		TLSListen:   cfg.TLS.Listen,
		HTTPSListen: cfg.HTTPS.Listen,
		ServerName:  cfg.TLS.ServerName,
		Resolver:    chain,
		Logger:      opt.Logger,
		Timeout:     cfg.Upstream.Timeout + 2*time.Second,
	}
	if len(cfg.TLS.Listen) > 0 || len(cfg.HTTPS.Listen) > 0 {
		var names []string
		if cfg.TLS.ServerName != "" {
			names = append(names, cfg.TLS.ServerName)
		}
		sopt.TLSConfig, err = server.LoadOrCreateCertificate(cfg.Cert.Cert, cfg.Cert.Key, cfg.DataDir, names, opt.Logger)
		if err != nil {
			return nil, err
		}
	}
	h.server = server.New(sopt)
	return h, nil
}

// openState opens the runtime state store: a file in the data directory,
// or memory when there is none.
func (h *Haven) openState(ctx context.Context) error {
	if h.cfg.DataDir == "" {
		h.state = state.NewMemory()
	} else {
		if err := os.MkdirAll(h.cfg.DataDir, 0o750); err != nil {
			return fmt.Errorf("data_dir: %w", err)
		}
		f, err := state.OpenFile(filepath.Join(h.cfg.DataDir, "state.json"), state.FileOptions{Now: h.opt.Now, Logger: h.log})
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
func (h *Haven) buildChain(cfg *config.Config) (resolver.Resolver, error) {
	def, err := h.group(cfg.Upstreams, cfg.Upstream.Timeout)
	if err != nil {
		return nil, err
	}
	var routes []upstream.Route
	for _, c := range cfg.Conditional {
		g, err := h.group(c.Upstreams, cfg.Upstream.Timeout)
		if err != nil {
			return nil, err
		}
		routes = append(routes, upstream.Route{Domain: c.Domain, Group: g})
	}
	var next resolver.Resolver = upstream.NewForwarder(def, routes)
	if cfg.Cache.Size > 0 {
		h.cache = cache.New(next, cache.Options{
			Size:       cfg.Cache.Size,
			MinTTL:     cfg.Cache.MinTTL,
			MaxTTL:     cfg.Cache.MaxTTL,
			ServeStale: cfg.Cache.ServeStale,
			Now:        h.opt.Now,
		})
		next = h.cache
	}
	pc, err := policyConfig(cfg)
	if err != nil {
		return nil, err
	}
	popt := policy.Options{Now: h.opt.Now}
	if h.neighbors != nil {
		popt.Neighbors = h.neighbors
	}
	h.filter, err = policy.New(next, h.store, pc, popt)
	if err != nil {
		return nil, err
	}
	return h.filter, nil
}

func (h *Haven) group(ups []config.Upstream, timeout time.Duration) (*upstream.Group, error) {
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
	h.groups = append(h.groups, g)
	return g, nil
}

// LoadLists gives the store its sources and builds the first matcher from
// what is on this machine (files, built-in lists, the disk cache), without
// the network.
func (h *Haven) LoadLists(ctx context.Context) error {
	if err := h.store.SetSources(ctx, Sources(h.cfg)); err != nil {
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
		h.store.Run(ctx, h.cfg.Refresh)
	}()
	return nil
}

// Addr returns the first bound listen address ("127.0.0.1:5353"), for
// tests and logs; "" before Start.
func (h *Haven) Addr() string {
	a := h.server.Addrs()
	if len(a) == 0 {
		return ""
	}
	return a[0].String()
}

// Addrs returns every bound listen address.
func (h *Haven) Addrs() []net.Addr { return h.server.Addrs() }

// Store returns the blocklist store.
func (h *Haven) Store() *blocklist.Store { return h.store }

// Filter returns the policy step.
func (h *Haven) Filter() *policy.Filter { return h.filter }

// Cache returns the response cache, or nil when it is disabled.
func (h *Haven) Cache() *cache.Cache { return h.cache }

// Close stops the listeners (letting queries in flight finish) and the
// background refresh.
func (h *Haven) Close(ctx context.Context) error {
	if h.cancel != nil {
		h.cancel()
	}
	err := h.server.Shutdown(ctx)
	if h.api != nil {
		err = errors.Join(err, h.api.Shutdown(ctx))
	}
	h.wg.Wait()
	if h.state != nil {
		err = errors.Join(err, h.state.Close())
	}
	for _, g := range h.groups {
		g.Close() // idle upstream connections
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
