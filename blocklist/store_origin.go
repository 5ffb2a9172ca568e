package blocklist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

var errNoCopy = errors.New("no copy yet")

// origin is a URL or a local file with its last good copy, shared by every
// source that names it. Its fields are written only while Store.mu is held,
// under Store.smu; the goroutine updating an origin may read them without
// smu.
type origin struct {
	key  string // see Source.originKey
	name string // of the first source naming it, for logs
	url  string
	path string

	cacheTried bool    // the disk cache was consulted
	has        bool    // a good copy exists
	data       memCopy // the copy, when there is no disk cache
	meta       cacheMeta
	fromCache  bool // the copy was read from the disk cache and not confirmed since

	lastAttempt time.Time
	lastSuccess time.Time
	lastErr     string
}

// job is an origin with the sources that use it.
type job struct {
	o    *origin
	srcs []*source
}

// jobs groups the current sources by origin, in configuration order.
func (s *Store) jobs() []job {
	var js []job
	idx := map[*origin]int{}
	for _, src := range s.sources() {
		if src.o == nil {
			continue
		}
		i, ok := idx[src.o]
		if !ok {
			i = len(js)
			idx[src.o] = i
			js = append(js, job{o: src.o})
		}
		js[i].srcs = append(js[i].srcs, src)
	}
	return js
}

// updateAll brings every origin up to date, a few at a time: files are read
// again if they changed; with network, URLs are downloaded. It reports
// whether a copy changed, and the failures.
func (s *Store) updateAll(ctx context.Context, network bool) (bool, []error) {
	js := s.jobs()
	type result struct {
		changed bool
		err     error
	}
	res := make([]result, len(js))
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i, j := range js {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			res[i].changed, res[i].err = s.update(ctx, j, network)
		})
	}
	wg.Wait()
	changed := false
	var errs []error
	for i, r := range res {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", js[i].o.name, r.err))
		}
		changed = changed || r.changed
	}
	if changed {
		s.dirty = true
	}
	return changed, errs
}

// update refreshes one origin and reports whether its copy changed. A
// failure is recorded in its status and logged; the last good copy stays.
func (s *Store) update(ctx context.Context, j job, network bool) (bool, error) {
	o := j.o
	if !o.cacheTried {
		s.loadCached(o)
	}
	if o.url != "" && !network {
		return false, nil
	}
	now := s.now()
	var changed bool
	var err error
	if o.url != "" {
		changed, err = s.download(ctx, j)
	} else {
		changed, err = s.readFile(j)
	}
	if err != nil && ctx.Err() != nil {
		return false, err // shutting down: not a failure of the source
	}
	s.smu.Lock()
	o.lastAttempt = now
	if err != nil {
		o.lastErr = err.Error()
	} else {
		o.lastErr = ""
		o.lastSuccess = now
	}
	s.smu.Unlock()
	if err != nil {
		if o.has {
			s.log.Warn("list refresh failed, keeping last good copy", "source", o.name, "err", err)
		} else {
			s.log.Warn("list refresh failed, no copy to serve", "source", o.name, "err", err)
		}
	}
	return changed, err
}

// loadCached takes the origin's copy from the disk cache, if there is one.
func (s *Store) loadCached(o *origin) {
	o.cacheTried = true
	if s.cache == nil {
		return
	}
	m, ok, err := s.cache.load(o.key)
	if err != nil {
		s.log.Warn("cannot read list cache", "source", o.name, "err", err)
		return
	}
	if !ok {
		return
	}
	s.smu.Lock()
	o.has, o.meta, o.fromCache = true, m, true
	s.smu.Unlock()
	s.log.Info("list loaded from cache", "source", o.name, "bytes", m.Size, "age", s.now().Sub(m.Checked).Round(time.Second))
}

// download fetches a URL origin, conditionally when there is a copy.
func (s *Store) download(ctx context.Context, j job) (bool, error) {
	o := j.o
	var etag, lastMod string
	if o.has {
		etag, lastMod = o.meta.ETag, o.meta.LastModified
	}
	start := s.now()
	res, err := s.fetch(ctx, o.name, o.url, etag, lastMod)
	if err != nil {
		return false, err
	}
	now := s.now()
	if res.notModified || res.body.sum == o.meta.SHA256 && o.has {
		res.body.discard()
		m := o.meta
		m.Checked = now
		if res.etag != "" {
			m.ETag = res.etag
		}
		if res.lastModified != "" {
			m.LastModified = res.lastModified
		}
		s.confirm(o, m)
		how := "304"
		if !res.notModified {
			how = "same content"
		}
		s.log.Debug("list not modified", "source", o.name, "how", how)
		return false, nil
	}
	rules, err := s.accept(res.body, j.srcs, false)
	if err == nil {
		err = s.commit(o, res.body, cacheMeta{
			ETag: res.etag, LastModified: res.lastModified,
			Fetched: now, Checked: now, Size: res.body.size, SHA256: res.body.sum,
		})
	}
	if err != nil {
		res.body.discard()
		return false, err
	}
	s.log.Info("list downloaded", "source", o.name, "bytes", res.body.size, "rules", rules, "took", now.Sub(start).Round(time.Millisecond))
	return true, nil
}

// readFile reads a file origin again if its modification time or size
// changed since the copy in use was taken.
func (s *Store) readFile(j job) (bool, error) {
	o := j.o
	fi, err := os.Stat(o.path)
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("%s: not a regular file", o.path)
	}
	now := s.now()
	if o.has && fi.ModTime().Equal(o.meta.FileModTime) && fi.Size() == o.meta.FileSize {
		s.smu.Lock()
		o.meta.Checked, o.fromCache = now, false
		s.smu.Unlock()
		return false, nil
	}
	f, err := os.Open(o.path)
	if err != nil {
		return false, err
	}
	b, err := readBody(f, s.opt.MaxBytes, s.cache)
	f.Close()
	if err != nil {
		return false, fmt.Errorf("read: %w", err)
	}
	if o.has && b.sum == o.meta.SHA256 {
		b.discard() // touched, not changed
		m := o.meta
		m.Checked, m.FileModTime, m.FileSize = now, fi.ModTime(), fi.Size()
		s.confirm(o, m)
		return false, nil
	}
	rules, err := s.accept(b, j.srcs, true)
	if err == nil {
		err = s.commit(o, b, cacheMeta{
			Fetched: now, Checked: now, Size: b.size, SHA256: b.sum,
			FileModTime: fi.ModTime(), FileSize: fi.Size(),
		})
	}
	if err != nil {
		b.discard()
		return false, err
	}
	s.log.Info("list file read", "source", o.name, "bytes", b.size, "rules", rules)
	return true, nil
}

// accept parses a new copy for every source using it, and refuses it if it
// is not a usable list for any of them. The parse only counts: the rules
// are read again by the build, so that a download never holds a parsed
// list. It returns the most rules any of the sources kept.
func (s *Store) accept(b *body, srcs []*source, localFile bool) (int, error) {
	rules := 0
	for _, src := range srcs {
		res, err := parseCopyInto(b.open, src.parseOptions(), s.opt.MaxBytes, true, discardSink{})
		if err == nil {
			err = acceptable(res.stats, localFile)
		}
		if err != nil {
			return 0, err
		}
		rules = max(rules, res.stats.Kept)
	}
	return rules, nil
}

// commit makes an accepted body the origin's copy.
func (s *Store) commit(o *origin, b *body, m cacheMeta) error {
	if s.cache != nil {
		if err := s.cache.replace(o.key, b.tmp); err != nil {
			return err
		}
		b.tmp = ""
		if err := s.cache.writeMeta(o.key, m); err != nil {
			// The copy is in place; without its sidecar the next
			// download is merely unconditional.
			s.log.Warn("cannot write list cache", "source", o.name, "err", err)
		}
	}
	m.Key = o.key
	s.smu.Lock()
	o.has, o.data, o.meta, o.fromCache = true, b.data, m, false
	s.smu.Unlock()
	return nil
}

// confirm records that the origin still has the copy in use.
func (s *Store) confirm(o *origin, m cacheMeta) {
	if s.cache != nil {
		if err := s.cache.writeMeta(o.key, m); err != nil {
			s.log.Warn("cannot write list cache", "source", o.name, "err", err)
		}
	}
	s.smu.Lock()
	o.meta, o.fromCache = m, false
	s.smu.Unlock()
}

// openCopy opens the origin's copy in use.
func (s *Store) openCopy(o *origin) (func() (io.ReadCloser, error), error) {
	if !o.has {
		return nil, errNoCopy
	}
	if s.cache == nil {
		data := o.data
		return func() (io.ReadCloser, error) { return data.open(), nil }, nil
	}
	path := s.cache.dataPath(o.key)
	return func() (io.ReadCloser, error) { return os.Open(path) }, nil
}
