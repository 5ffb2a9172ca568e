package blocklist

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
)

// Source is where one list comes from: exactly one of URL, Path, Builtin or
// Inline is set.
type Source struct {
	Category string
	Name     string   // for logs and explanations; default: the URL, the path, "builtin:NAME" or "inline:CATEGORY"
	URL      string   // http:// or https://, fetched by Refresh
	Path     string   // a local file, read again when its modification time or size changes
	Builtin  string   // an embedded list: see Builtins
	Inline   []string // entries written in the config; entry i is line i+1
	Exact    bool     // ParseOptions.Exact
	Regex    bool     // ParseOptions.Regex
}

// Source kinds, as reported in SourceStatus.Kind.
const (
	SourceURL     = "url"
	SourceFile    = "file"
	SourceBuiltin = "builtin"
	SourceInline  = "inline"
)

// kind says which of the location fields is set ("" if none).
func (s *Source) kind() string {
	switch {
	case s.URL != "":
		return SourceURL
	case s.Path != "":
		return SourceFile
	case s.Builtin != "":
		return SourceBuiltin
	case s.Inline != nil:
		return SourceInline
	}
	return ""
}

// name is how logs, Refs and Status name the source.
func (s *Source) name() string {
	if s.Name != "" {
		return s.Name
	}
	switch s.kind() {
	case SourceURL:
		return s.URL
	case SourceFile:
		return s.Path
	case SourceBuiltin:
		return "builtin:" + s.Builtin
	case SourceInline:
		return "inline:" + s.Category
	}
	return ""
}

// originKey identifies where the data of a URL or file source lives, so that
// sources naming the same place share one download and one cached copy. It
// is "" for builtin and inline sources, which have nothing to fetch.
func (s *Source) originKey() string {
	switch s.kind() {
	case SourceURL:
		return "url:" + s.URL
	case SourceFile:
		return "file:" + filepath.Clean(s.Path)
	}
	return ""
}

func (s *Source) parseOptions() ParseOptions {
	return ParseOptions{Exact: s.Exact, Regex: s.Regex}
}

// validate reports the first problem with s.
func (s *Source) validate() error {
	set := 0
	for _, ok := range []bool{s.URL != "", s.Path != "", s.Builtin != "", s.Inline != nil} {
		if ok {
			set++
		}
	}
	if set != 1 {
		return errors.New("exactly one of URL, Path, Builtin and Inline must be set")
	}
	if s.Category == "" {
		return errors.New("no category")
	}
	switch s.kind() {
	case SourceURL:
		u, err := url.Parse(s.URL)
		if err != nil {
			return fmt.Errorf("bad URL: %w", err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("bad URL %q: scheme must be http or https", s.URL)
		}
		if u.Host == "" {
			return fmt.Errorf("bad URL %q: no host", s.URL)
		}
	case SourceBuiltin:
		if !builtinExists(s.Builtin) {
			return fmt.Errorf("unknown builtin list %q (have %s)", s.Builtin, strings.Join(Builtins(), ", "))
		}
	case SourceInline:
		for i, e := range s.Inline {
			if strings.ContainsAny(e, "\r\n") {
				return fmt.Errorf("inline entry %d contains a line break", i+1)
			}
		}
	}
	return nil
}

// inlineReader presents inline entries as a list file, one entry per line,
// so that entry i is reported as line i+1.
func inlineReader(entries []string) io.Reader {
	return strings.NewReader(strings.Join(entries, "\n"))
}

// validateSources checks every source and names each failing one.
func validateSources(src []Source) error {
	var errs []error
	for i := range src {
		if err := src[i].validate(); err != nil {
			errs = append(errs, fmt.Errorf("source %d (%s): %w", i+1, src[i].name(), err))
		}
	}
	return errors.Join(errs...)
}
