package blocklist

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// StoreOptions configure a Store. Zero values select the defaults.
type StoreOptions struct {
	DataDir  string        // where good copies are kept ("" = no disk cache; copies stay in memory)
	Client   *http.Client  // nil = a client with sane timeouts
	Timeout  time.Duration // per download attempt (default 30s)
	Retries  int           // attempts per refresh (default 3, with backoff)
	MaxBytes int64         // size cap per download (default 64 MiB); bigger = failure, last good kept
	Logger   *slog.Logger  // nil = discard
	Now      func() time.Time
}

// Defaults for StoreOptions.
const (
	DefaultTimeout  = 30 * time.Second
	DefaultRetries  = 3
	DefaultMaxBytes = 64 << 20
)

// maxParallel bounds how many sources are fetched or read at once.
const maxParallel = 4

// Store owns the configured sources, their last good copies and the Matcher
// built from them. Matcher is lock-free and may be called at any time;
// SetSources, Load and Refresh run one at a time.
//
// Parsed lists are never held: a build parses copies again (from the disk
// cache, or from memory without DataDir) straight into a builder, so
// between refreshes only the Matcher and, without DataDir, the raw bytes of
// the downloaded copies stay in memory. Load parses every copy; a later
// build only the copies that changed, into a Matcher that shares the
// unchanged part of the one in use (see build), so that a refresh holds
// little more than the Matcher in use.
type Store struct {
	opt     StoreOptions
	log     *slog.Logger
	now     func() time.Time
	client  *http.Client
	cache   *diskCache    // nil without DataDir
	backoff time.Duration // delay before the second attempt, doubled after each

	mu      sync.Mutex // serialises SetSources, Load and Refresh; guards origins, loaded, dirty, built
	origins map[string]*origin
	loaded  bool          // Load has run: SetSources builds at once
	dirty   bool          // the source set or a copy changed since the last build
	built   []builtSource // what the last build took from each source, for the next one

	// smu guards srcs and the status fields of sources and origins, so that
	// Status answers while a refresh is running. Writers also hold mu.
	smu  sync.Mutex
	srcs []*source

	cur atomic.Pointer[snapshot]
}

// source is one configured Source with the status of its copy in use.
type source struct {
	Source
	name string
	o    *origin // nil for builtin and inline sources

	// From the last parse of the copy in use; guarded by Store.smu.
	rules   int
	skipped map[string]int
	err     string // why the copy in use could not be parsed
}

// NewStore returns a Store with no sources and an empty Matcher.
func NewStore(opt StoreOptions) *Store {
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.Retries <= 0 {
		opt.Retries = DefaultRetries
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	s := &Store{
		opt:     opt,
		log:     opt.Logger,
		now:     opt.Now,
		client:  opt.Client,
		backoff: 2 * time.Second,
		origins: map[string]*origin{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.client == nil {
		s.client = defaultClient()
	}
	if opt.DataDir != "" {
		s.cache = &diskCache{dir: filepath.Join(opt.DataDir, "lists")}
	}
	m, err := NewMatcher(nil)
	if err != nil {
		m = new(Matcher)
	}
	s.cur.Store(&snapshot{m: m})
	return s
}

// Matcher returns the current lookup structure; never nil. It is immutable:
// a refresh swaps in a new one.
func (s *Store) Matcher() *Matcher { return s.cur.Load().m }

// SetSources replaces the source set, for a config reload. A URL or file
// kept from the previous set keeps its copy and validators; a new URL source
// is served from the disk cache if it has a copy there, and downloaded only
// by the next Refresh. Before Load, the sources are only recorded; after it,
// the Matcher is rebuilt at once. On error nothing changes.
func (s *Store) SetSources(ctx context.Context, src []Source) error {
	if err := validateSources(src); err != nil {
		return err
	}
	if err := checkCategories(src); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	origins := map[string]*origin{}
	srcs := make([]*source, len(src))
	for i := range src {
		sc := &source{Source: src[i], name: src[i].name()}
		sc.Inline = slices.Clone(sc.Inline)
		if key := sc.originKey(); key != "" {
			o := origins[key]
			if o == nil {
				o = s.origins[key]
			}
			if o == nil {
				o = &origin{key: key, name: sc.name, url: sc.URL, path: sc.Path}
			}
			origins[key] = o
			sc.o = o
		}
		srcs[i] = sc
	}
	oldSrcs, oldOrigins := s.sources(), s.origins
	s.setSources(srcs)
	s.origins = origins
	s.dirty = true
	if !s.loaded {
		return nil
	}
	s.updateAll(ctx, false)
	if err := s.build(false); err != nil {
		s.setSources(oldSrcs)
		s.origins = oldOrigins
		return err
	}
	return nil
}

// Load builds the first Matcher at startup without touching the network:
// from local files, builtin and inline lists, and the disk cache of URL
// sources, so that a restart serves the last good lists at once. Problems
// are reported per source by Status; Load itself cannot fail.
func (s *Store) Load(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache != nil {
		s.cache.removeTemps()
	}
	s.updateAll(ctx, false)
	if err := s.build(true); err != nil {
		s.log.Error("cannot build blocklists", "err", err)
	}
	s.loaded = true
}

// Refresh downloads every URL source (conditionally: a 304 keeps the copy),
// reads changed files again, and, if any copy changed, builds a new Matcher
// and swaps it in. A source that fails keeps its last good copy. The error
// joins the failure of every source that failed; nil if all went well.
func (s *Store) Refresh(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, errs := s.updateAll(ctx, true)
	if err := ctx.Err(); err != nil {
		return err // copies that changed are picked up by the next build (dirty)
	}
	if s.dirty {
		if err := s.build(false); err != nil {
			errs = append(errs, err)
		}
	}
	s.loaded = true
	return errors.Join(errs...)
}

// Run calls Refresh every period until ctx ends. The first refresh comes
// when the oldest copy is period old (at once if a URL source has no copy),
// so that frequent restarts do not download every list again. With period
// 0 it never refreshes, except once at once if a URL source has no copy at
// all, which would otherwise never be filled.
func (s *Store) Run(ctx context.Context, period time.Duration) {
	wait, need := s.firstRefresh(period)
	if period <= 0 {
		if need {
			s.Refresh(ctx)
		}
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.Refresh(ctx) // failures are logged and reported by Status
		t.Reset(period)
	}
}

// firstRefresh says how long to wait before the first refresh, and whether
// some URL source has no copy yet.
func (s *Store) firstRefresh(period time.Duration) (time.Duration, bool) {
	s.smu.Lock()
	defer s.smu.Unlock()
	now := s.now()
	wait := period
	for _, src := range s.srcs {
		o := src.o
		if o == nil || o.url == "" {
			continue
		}
		if !o.has {
			return 0, true
		}
		if d := o.meta.Checked.Add(period).Sub(now); d < wait {
			wait = max(d, 0)
		}
	}
	return wait, false
}

// sources returns the current source set.
func (s *Store) sources() []*source {
	s.smu.Lock()
	defer s.smu.Unlock()
	return s.srcs
}

func (s *Store) setSources(srcs []*source) {
	s.smu.Lock()
	s.srcs = srcs
	s.smu.Unlock()
}

// checkCategories enforces the Matcher's limit before anything changes.
func checkCategories(src []Source) error {
	seen := map[string]bool{}
	for i := range src {
		seen[src[i].Category] = true
	}
	if len(seen) > 64 {
		return fmt.Errorf("%d categories: at most 64", len(seen))
	}
	return nil
}
