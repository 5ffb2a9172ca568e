package blocklist

import (
	"io"
	"maps"
	"time"
)

// SourceStatus reports one source, for logs, metrics and `haven check`.
type SourceStatus struct {
	Name        string
	Category    string
	Kind        string         // SourceURL, SourceFile, SourceBuiltin or SourceInline
	HasCopy     bool           // a good copy is in use (false: the source contributes nothing yet)
	Rules       int            // rules and patterns kept from the copy in use
	Skipped     map[string]int // lines of the copy in use that were skipped, per reason
	LastAttempt time.Time      // last download or file read; zero for builtin and inline sources
	LastSuccess time.Time
	LastError   string        // of the last attempt, or why the copy in use could not be parsed; "" if none
	FromCache   bool          // the copy in use was read from the disk cache and not yet downloaded again or confirmed by this process
	Age         time.Duration // since the copy in use was downloaded or last confirmed current; 0 for builtin and inline sources
}

// snapshot is what readers see: the Matcher and how to find the copies it
// was built from.
type snapshot struct {
	m    *Matcher
	refs []lineRef
}

// lineRef lets Line re-read the copy of one source.
type lineRef struct {
	name string
	opt  ParseOptions
	open func() (io.ReadCloser, error)
}

// Status reports every source, in configuration order.
func (s *Store) Status() []SourceStatus {
	s.smu.Lock()
	defer s.smu.Unlock()
	now := s.now()
	out := make([]SourceStatus, 0, len(s.srcs))
	for _, src := range s.srcs {
		st := SourceStatus{
			Name:      src.name,
			Category:  src.Category,
			Kind:      src.kind(),
			HasCopy:   true,
			Rules:     src.rules,
			Skipped:   maps.Clone(src.skipped),
			LastError: src.err,
		}
		if o := src.o; o != nil {
			st.HasCopy = o.has
			st.LastAttempt, st.LastSuccess = o.lastAttempt, o.lastSuccess
			if o.lastErr != "" {
				st.LastError = o.lastErr
			}
			st.FromCache = o.fromCache
			if o.has {
				st.Age = max(now.Sub(o.meta.Checked), 0)
			}
		}
		out = append(out, st)
	}
	return out
}

// Line returns the 1-based line of the rule ref in its source's copy in
// use, or 0 if it cannot be found. It parses that copy again, so it is
// meant for explanations, not for every query.
func (s *Store) Line(ref Ref) int {
	for _, lr := range s.cur.Load().refs {
		if lr.name != ref.Source {
			continue
		}
		f := &lineFinder{ref: ref}
		res, err := parseCopyInto(lr.open, lr.opt, s.opt.MaxBytes, false, f)
		if err != nil {
			continue
		}
		if ref.Pattern {
			for _, p := range res.patterns {
				if p.Text == ref.Name && p.Allow == ref.Allow {
					return p.Line
				}
			}
			continue
		}
		if f.line > 0 {
			return f.line
		}
	}
	return 0
}

// lineFinder is a ruleSink that notes the line of the first rule matching
// ref, so that finding a line holds no list.
type lineFinder struct {
	ref  Ref
	line int
}

func (f *lineFinder) addRule(name []byte, kind Kind, allow, _ bool, line int) {
	if f.line == 0 && !f.ref.Pattern && kind == f.ref.Kind && allow == f.ref.Allow && string(name) == f.ref.Name {
		f.line = line
	}
}

func (f *lineFinder) restart() { f.line = 0 }
