package blocklist

import (
	"bytes"
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

	cacheTried bool   // the disk cache was consulted
	has        bool   // a good copy exists
	data       []byte // the copy, when there is no disk cache
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
// again if they changed; with network, URLs are downloaded. It returns the
// parsed lists of the copies that changed, and the failures.
func (s *Store) updateAll(ctx context.Context, network bool) (map[*source]*List, []error) {
	js := s.jobs()
	type result struct {
		lists map[*source]*List
		err   error
	}
	res := make([]result, len(js))
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i, j := range js {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			res[i].lists, res[i].err = s.update(ctx, j, network)
		})
	}
	wg.Wait()
	lists := map[*source]*List{}
	var errs []error
	for i, r := range res {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", js[i].o.name, r.err))
		}
		for src, l := range r.lists {
			lists[src] = l
		}
	}
	if len(lists) > 0 {
		s.dirty = true
	}
	return lists, errs
}

// update refreshes one origin. A failure is recorded in its status and
// logged; the last good copy stays.
func (s *Store) update(ctx context.Context, j job, network bool) (map[*source]*List, error) {
	o := j.o
	if !o.cacheTried {
		s.loadCached(o)
	}
	if o.url != "" && !network {
		return nil, nil
	}
	now := s.now()
	var lists map[*source]*List
	var err error
	if o.url != "" {
		lists, err = s.download(ctx, j)
	} else {
		lists, err = s.readFile(j)
	}
	if err != nil && ctx.Err() != nil {
		return nil, err // shutting down: not a failure of the source
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
	return lists, err
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
func (s *Store) download(ctx context.Context, j job) (map[*source]*List, error) {
	o := j.o
	var etag, lastMod string
	if o.has {
		etag, lastMod = o.meta.ETag, o.meta.LastModified
	}
	start := s.now()
	res, err := s.fetch(ctx, o.name, o.url, etag, lastMod)
	if err != nil {
		return nil, err
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
		return nil, nil
	}
	lists, err := s.accept(res.body, j.srcs, false)
	if err == nil {
		err = s.commit(o, res.body, cacheMeta{
			ETag: res.etag, LastModified: res.lastModified,
			Fetched: now, Checked: now, Size: res.body.size, SHA256: res.body.sum,
		})
	}
	if err != nil {
		res.body.discard()
		return nil, err
	}
	s.log.Info("list downloaded", "source", o.name, "bytes", res.body.size, "rules", kept(lists), "took", now.Sub(start).Round(time.Millisecond))
	return lists, nil
}

// readFile reads a file origin again if its modification time or size
// changed since the copy in use was taken.
func (s *Store) readFile(j job) (map[*source]*List, error) {
	o := j.o
	fi, err := os.Stat(o.path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", o.path)
	}
	now := s.now()
	if o.has && fi.ModTime().Equal(o.meta.FileModTime) && fi.Size() == o.meta.FileSize {
		s.smu.Lock()
		o.meta.Checked, o.fromCache = now, false
		s.smu.Unlock()
		return nil, nil
	}
	f, err := os.Open(o.path)
	if err != nil {
		return nil, err
	}
	b, err := readBody(f, s.opt.MaxBytes, s.cache, fi.Size())
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if o.has && b.sum == o.meta.SHA256 {
		b.discard() // touched, not changed
		m := o.meta
		m.Checked, m.FileModTime, m.FileSize = now, fi.ModTime(), fi.Size()
		s.confirm(o, m)
		return nil, nil
	}
	lists, err := s.accept(b, j.srcs, true)
	if err == nil {
		err = s.commit(o, b, cacheMeta{
			Fetched: now, Checked: now, Size: b.size, SHA256: b.sum,
			FileModTime: fi.ModTime(), FileSize: fi.Size(),
		})
	}
	if err != nil {
		b.discard()
		return nil, err
	}
	s.log.Info("list file read", "source", o.name, "bytes", b.size, "rules", kept(lists))
	return lists, nil
}

// accept parses a new copy for every source using it, and refuses it if it
// is not a usable list for any of them.
func (s *Store) accept(b *body, srcs []*source, localFile bool) (map[*source]*List, error) {
	lists := make(map[*source]*List, len(srcs))
	for _, src := range srcs {
		rc, err := b.open()
		if err != nil {
			return nil, err
		}
		l, err := parseCopy(rc, src.parseOptions(), s.opt.MaxBytes, true)
		rc.Close()
		if err == nil {
			err = acceptable(l, localFile)
		}
		if err != nil {
			return nil, err
		}
		lists[src] = l
	}
	return lists, nil
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
		return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, nil
	}
	path := s.cache.dataPath(o.key)
	return func() (io.ReadCloser, error) { return os.Open(path) }, nil
}

// kept is the number of rules in a new copy: the most any of its sources
// kept.
func kept(lists map[*source]*List) int {
	n := 0
	for _, l := range lists {
		n = max(n, l.Stats.Kept)
	}
	return n
}
