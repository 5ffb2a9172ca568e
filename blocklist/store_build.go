package blocklist

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"time"
)

// builtSource is what the last build took from one source: enough for the
// next build to keep the source's rules without reading its copy again if
// the copy and the options are the same.
type builtSource struct {
	fp       string // see fingerprint
	origin   int
	patStart int // its patterns are the Matcher's patterns[patStart:patEnd]
	patEnd   int
	rules    int
	skipped  map[string]int
	err      string
}

// build makes a new Matcher from the copy in use of every source and swaps
// it in. Each copy is streamed into the builder: no parsed list exists at
// any time. A source without a copy still adds its category, so that
// category masks do not depend on which downloads have succeeded.
//
// A full build (full, or no earlier build to start from) parses every
// source. Otherwise only the sources whose origin has a changed copy or
// options are parsed, and the new Matcher is made from the one in use by a
// deltaBuilder: it shares the unchanged segments, so that a refresh never
// holds two whole sets (see matcher_delta.go).
func (s *Store) build(full bool) error {
	start := s.now()
	srcs := s.sources()
	cats, origins, originOf, err := originTable(srcs)
	if err != nil {
		return fmt.Errorf("build matcher: %w", err)
	}
	fps := make([]string, len(srcs))
	for i, src := range srcs {
		fps[i] = s.fingerprint(src)
	}
	built := make([]builtSource, len(srcs))
	for i := range srcs {
		built[i].fp, built[i].origin = fps[i], originOf[i]
	}
	refs := make([]lineRef, 0, len(srcs))
	for _, src := range srcs {
		if open, err := s.opener(src); err == nil {
			refs = append(refs, lineRef{name: src.name, opt: src.parseOptions(), open: open})
		}
	}
	publish := func(m *Matcher) { s.cur.Store(&snapshot{m: m, refs: refs}) }

	old := s.cur.Load().m
	changed, ok := s.changedOrigins(originOf, fps, len(origins))
	var m *Matcher
	how := "full"
	if full || !ok || old.over != nil {
		m = s.buildFull(srcs, built)
		publish(m)
	} else {
		m = s.buildDelta(old, srcs, built, changed, cats, origins)
		publish(m)
		m = compact(m, segmentBytes, publish)
		how = "changed sources only"
	}
	s.built = built
	s.dirty = false
	s.smu.Lock()
	for i, src := range srcs {
		src.rules, src.skipped, src.err = built[i].rules, built[i].skipped, built[i].err
	}
	s.smu.Unlock()
	s.log.Info("blocklists built", "names", m.Len(), "sources", len(srcs), "build", how,
		"took", s.now().Sub(start).Round(time.Millisecond))
	return nil
}

// buildFull parses every source into a new Matcher, and fills in built.
func (s *Store) buildFull(srcs []*source, built []builtSource) *Matcher {
	b := newMatcherBuilder()
	for i, src := range srcs {
		// Cannot fail: originTable has checked the same limits.
		_ = b.source(src.Category, src.name)
		res := s.parseSource(src, builderSink{b}, &built[i])
		b.addPatterns(res.patterns)
		built[i].patStart, built[i].patEnd = b.srcPatterns, len(b.m.patterns)
	}
	return b.finish()
}

// buildDelta parses the sources of the changed origins into a deltaBuilder
// over old, keeps what the other sources gave the last build, and fills in
// built.
func (s *Store) buildDelta(old *Matcher, srcs []*source, built []builtSource, changed []bool,
	cats []string, origins []listOrigin) *Matcher {
	// The k-th source of an unchanged origin is the k-th source of the
	// same origin in the last build: their fingerprints are equal.
	last := map[int][]builtSource{}
	for _, bs := range s.built {
		last[bs.origin] = append(last[bs.origin], bs)
	}
	d := newDeltaBuilder(old, changed)
	var patterns []compiledPattern
	for i, src := range srcs {
		o := built[i].origin
		start := len(patterns)
		if !changed[o] {
			bs := last[o][0]
			last[o] = last[o][1:]
			patterns = append(patterns, old.patterns[bs.patStart:bs.patEnd]...)
			built[i].rules, built[i].skipped, built[i].err = bs.rules, bs.skipped, bs.err
		} else {
			d.source(o)
			res := s.parseSource(src, d, &built[i])
			patterns = compilePatterns(patterns, res.patterns, o)
		}
		built[i].patStart, built[i].patEnd = start, len(patterns)
	}
	return d.finish(cats, origins, slices.Clip(patterns))
}

// parseSource parses the copy of src into sink and records its figures in
// bs. A copy that cannot be read or parsed adds nothing: sink restarts.
func (s *Store) parseSource(src *source, sink restartSink, bs *builtSource) parseResult {
	open, err := s.opener(src)
	var res parseResult
	if err == nil {
		res, err = parseCopyInto(open, src.parseOptions(), s.opt.MaxBytes, false, sink)
	}
	if err != nil {
		sink.restart()
		res = parseResult{}
	}
	if err != nil && !errors.Is(err, errNoCopy) {
		bs.err = err.Error()
		s.log.Warn("cannot parse list copy", "source", src.name, "err", err)
		if o := src.o; o != nil && errors.Is(err, fs.ErrNotExist) {
			// The cached copy was deleted: forget its validators, or
			// every refresh would get a 304 for a copy we lack.
			s.smu.Lock()
			o.has, o.meta = false, cacheMeta{}
			s.smu.Unlock()
		}
	}
	bs.rules, bs.skipped = res.stats.Kept, res.stats.Skipped
	return res
}

// changedOrigins says, for every origin of the new table, whether its
// sources differ from the last build's (another copy, other options, other
// sources). It reports false if there is no last build to start from.
func (s *Store) changedOrigins(originOf []int, fps []string, n int) ([]bool, bool) {
	if s.built == nil {
		return nil, false
	}
	was := map[int][]string{}
	for _, bs := range s.built {
		was[bs.origin] = append(was[bs.origin], bs.fp)
	}
	now := map[int][]string{}
	for i, o := range originOf {
		now[o] = append(now[o], fps[i])
	}
	changed := make([]bool, n)
	for o := range changed {
		changed[o] = !slices.Equal(now[o], was[o]) || slices.Contains(now[o], "")
	}
	return changed, true
}

// fingerprint identifies what a build reads from src: its options and its
// copy. Equal fingerprints mean that parsing again would give the same
// rules. "" means unknown (it never counts as equal).
func (s *Store) fingerprint(src *source) string {
	opt := src.parseOptions()
	tag := fmt.Sprintf("exact=%t regex=%t ", opt.Exact, opt.Regex)
	switch src.kind() {
	case SourceBuiltin:
		return tag + "builtin:" + src.Builtin
	case SourceInline:
		h := sha256.New()
		for _, e := range src.Inline {
			io.WriteString(h, e)
			h.Write([]byte{'\n'})
		}
		return tag + "inline:" + hex.EncodeToString(h.Sum(nil))
	}
	o := src.o
	switch {
	case !o.has:
		return tag + "no copy"
	case s.cache == nil && o.meta.SHA256 != "":
		return tag + "memory:" + o.meta.SHA256
	case s.cache == nil:
		return ""
	}
	// The file on disk, not only its recorded hash: a copy damaged or
	// removed behind the store must be read again to be noticed.
	fi, err := os.Stat(s.cache.dataPath(o.key))
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%sdisk:%s %d %d", tag, o.meta.SHA256, fi.Size(), fi.ModTime().UnixNano())
}

// originTable numbers categories and origins as matcherBuilder.source does,
// and returns the origin of every source.
func originTable(srcs []*source) ([]string, []listOrigin, []int, error) {
	catIndex := map[string]int{}
	originIndex := map[listOrigin]int{}
	var cats []string
	var origins []listOrigin
	originOf := make([]int, len(srcs))
	for i, src := range srcs {
		c, ok := catIndex[src.Category]
		if !ok {
			if len(cats) == maxCategories {
				return nil, nil, nil, fmt.Errorf("category %q: more than %d categories", src.Category, maxCategories)
			}
			c = len(cats)
			catIndex[src.Category] = c
			cats = append(cats, src.Category)
		}
		o := listOrigin{cat: uint8(c), source: src.name}
		oi, ok := originIndex[o]
		if !ok {
			if len(origins) == maxOrigins {
				return nil, nil, nil, errors.New("too many sources")
			}
			oi = len(origins)
			originIndex[o] = oi
			origins = append(origins, o)
		}
		originOf[i] = oi
	}
	return cats, origins, originOf, nil
}

// builderSink feeds a copy's rules to the builder; a restart drops what the
// current source added so far.
type builderSink struct{ *matcherBuilder }

func (b builderSink) restart() { b.abort() }

// opener returns how to read the copy in use of src.
func (s *Store) opener(src *source) (func() (io.ReadCloser, error), error) {
	switch src.kind() {
	case SourceBuiltin:
		name := src.Builtin
		return func() (io.ReadCloser, error) { return openBuiltin(name) }, nil
	case SourceInline:
		entries := src.Inline
		return func() (io.ReadCloser, error) { return io.NopCloser(inlineReader(entries)), nil }, nil
	}
	return s.openCopy(src.o)
}
