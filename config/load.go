package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults for keys a file leaves out.
const (
	defaultCacheSize  = 100000
	defaultMaxTTL     = 24 * time.Hour
	defaultServeStale = time.Hour
	defaultAnswerTTL  = 60 * time.Second
	defaultRefresh    = 4 * time.Hour
	defaultTimeout    = 2 * time.Second
	minRefresh        = time.Minute
)

// Load reads and validates the file at path. Relative file paths in it are
// resolved against the directory the file is in. A file that cannot be
// read gives an error wrapping the os error; a file with problems gives
// Errors.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parse(path, filepath.Dir(abs), data)
}

// Parse validates data read from the file name. name is used in errors,
// and relative file paths are resolved against its directory. The error,
// if any, is of type Errors.
func Parse(name string, data []byte) (*Config, error) {
	return parse(name, filepath.Dir(name), data)
}

func parse(name, dir string, data []byte) (*Config, error) {
	p := &parser{errs: errs{file: name}, dir: dir}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, Errors{syntaxError(name, err)}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		p.add(extra.Line, "only one YAML document is allowed")
	case !errors.Is(err, io.EOF):
		return nil, Errors{syntaxError(name, err)}
	}
	root := &yaml.Node{Kind: yaml.MappingNode}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	c := p.config(root)
	if err := p.result(); err != nil {
		return nil, err
	}
	return c, nil
}

// maxUDPReaders bounds udp_readers: each reader holds some 300 KB of
// buffers and a socket per upstream, and more readers than CPUs only
// make them wait for each other.
const maxUDPReaders = 256

// config walks the top-level mapping.
func (p *parser) config(root *yaml.Node) *Config {
	c := &Config{
		File:     p.file,
		Listen:   []string{":53"},
		UDPBatch: true,
		Cache:    Cache{Size: defaultCacheSize, MaxTTL: defaultMaxTTL, ServeStale: defaultServeStale},
		Answer:   Answer{Mode: AnswerNXDomain, TTL: defaultAnswerTTL},
		Refresh:  defaultRefresh,
		// Log.Level and Format use slog's names so that the caller can
		// hand them over unchanged.
		Log:       Log{Level: "info", Format: "text"},
		Upstream:  UpstreamOptions{Timeout: defaultTimeout},
		RateLimit: RateLimit{Client: defaultClientRate, Action: "refuse", Exempt: defaultExempt()},
		QueryLog:  QueryLog{Enabled: true, Retention: defaultRetention},
	}
	keys := []string{"listen", "udp_batch", "udp_readers", "upstreams", "upstream", "conditional", "cache", "answer",
		"data_dir", "refresh", "lists", "allow", "deny", "block", "log",
		"profiles", "default_profile", "devices", "services", "mac_from", "neighbors",
		"tls", "https", "cert", "http", "access", "rate_limit", "querylog", "console"}
	if r := p.resolve(root); r.Kind != yaml.MappingNode && !isNull(r) {
		p.add(r.Line, "expected a mapping of keys at the top level, got %s", describe(r))
		return c
	}
	var (
		haveUpstreams bool
		categories    map[string]bool
		block         []located
		l             listeners
		// The policy keys are read once lists and services are known.
		profiles, defaultProfile, devices, services *yaml.Node
		profilesLine                                int
	)
	p.mapping(root, "", keys, func(key string, k, v *yaml.Node) {
		// An empty value means "not set", except that "answer: null" is
		// the null answer mode and an empty upstreams is still no upstream.
		if isNull(v) && key != "upstreams" && !(key == "answer" && strings.EqualFold(v.Value, "null")) {
			return
		}
		switch key {
		case "listen":
			l.listen, l.listenSet = p.addresses(v, "listen", true), true
			c.Listen = values(l.listen)
		case "udp_batch":
			c.UDPBatch, _ = p.boolean(v, "udp_batch")
		case "udp_readers":
			if n, ok := p.integer(v, "udp_readers"); ok {
				if n < 0 || n > maxUDPReaders {
					p.add(v.Line, "udp_readers: must be 0 to %d (0: one per two CPUs), got %d", maxUDPReaders, n)
					break
				}
				c.UDPReaders = n
			}
		case "upstreams":
			haveUpstreams = true
			c.Upstreams = p.upstreams(v, "upstreams")
		case "upstream":
			p.upstreamOptions(v, &c.Upstream)
		case "conditional":
			c.Conditional = p.conditional(v)
		case "cache":
			p.cache(v, &c.Cache)
		case "answer":
			p.answer(v, &c.Answer)
		case "data_dir":
			c.DataDir = p.path(v, "data_dir")
		case "refresh":
			c.Refresh = p.refresh(v)
		case "lists":
			c.Lists, categories = p.lists(v)
			p.reserveAll(v, categories)
		case "allow":
			c.Allow = p.names(v, "allow")
		case "deny":
			c.Deny = p.names(v, "deny")
		case "block":
			block, _ = p.strings(v, "block")
		case "log":
			p.log(v, &c.Log)
		case "profiles":
			profiles, profilesLine = v, k.Line
		case "default_profile":
			defaultProfile = v
		case "devices":
			devices = v
		case "services":
			services = v
		case "mac_from":
			c.MACFrom = p.prefixes(v, "mac_from")
		case "neighbors":
			c.Neighbors, _ = p.boolean(v, "neighbors")
		case "tls":
			l.tlsLine = k.Line
			p.tls(v, &c.TLS, &l)
		case "https":
			l.httpsLine = k.Line
			p.https(v, &c.HTTPS, &l)
		case "cert":
			p.cert(v, &c.Cert)
		case "http":
			c.HTTP = p.httpAddr(v, &l)
		case "access":
			p.access(v, &c.Access)
		case "rate_limit":
			p.rateLimit(v, &c.RateLimit)
		case "querylog":
			p.queryLog(v, &c.QueryLog)
		case "console":
			p.console(v, &c.Console)
		}
	})
	if !haveUpstreams {
		p.add(root.Line, "upstreams: at least one upstream is required")
	}
	c.Services = p.services(services, categories)
	vocab := newVocabulary(categories, c.Services)
	c.Block, _ = p.policyNames(block, vocab, "block", false)
	p.policy(c, vocab, profiles, profilesLine, defaultProfile)
	if devices != nil {
		c.Devices = p.devices(devices, c)
	}
	l.check(p, c)
	return c
}

// reserveAll rejects a category named "all": in a schedule, block: [all]
// blocks everything, so the name cannot also be a category.
func (p *parser) reserveAll(n *yaml.Node, categories map[string]bool) {
	if !categories["all"] {
		return
	}
	delete(categories, "all")
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == "all" {
			p.add(k.Line, "lists: \"all\" is a reserved name (in a schedule, block: [all] blocks everything)")
			return
		}
	}
}

// upstreams reads one upstream URL or a list of them.
func (p *parser) upstreams(n *yaml.Node, what string) []Upstream {
	items, ok := p.strings(n, what)
	if ok && len(items) == 0 {
		p.add(n.Line, "%s: at least one upstream is required", what)
	}
	var out []Upstream
	seen := make(map[string]int, len(items))
	for _, it := range items {
		up, err := ParseUpstream(it.s)
		if err != nil {
			p.add(it.line, "%s: %q: %v", what, it.s, err)
			continue
		}
		if first, dup := seen[up.URL]; dup {
			p.add(it.line, "%s: %q: duplicate upstream (also at line %d)", what, it.s, first)
			continue
		}
		seen[up.URL] = it.line
		out = append(out, up)
	}
	return out
}

func (p *parser) upstreamOptions(n *yaml.Node, o *UpstreamOptions) {
	p.mapping(n, "upstream", []string{"timeout"}, func(key string, k, v *yaml.Node) {
		if isNull(v) {
			return
		}
		if d, ok := p.duration(v, "upstream.timeout"); ok {
			if d == 0 {
				p.add(v.Line, "upstream.timeout: must be positive")
				return
			}
			o.Timeout = d
		}
	})
}

// conditional reads domain -> upstream(s), in file order.
func (p *parser) conditional(n *yaml.Node) []Conditional {
	var out []Conditional
	seen := make(map[string]int)
	p.mapping(n, "conditional", nil, func(key string, k, v *yaml.Node) {
		what := fmt.Sprintf("conditional %q", key)
		domain, err := fqdn(key)
		if err != nil {
			p.add(k.Line, "conditional: %q: %v", key, err)
		}
		ups := p.upstreams(v, what)
		if err != nil {
			return
		}
		if first, dup := seen[domain]; dup {
			p.add(k.Line, "conditional: %q: same domain as line %d", key, first)
			return
		}
		seen[domain] = k.Line
		out = append(out, Conditional{Domain: domain, Upstreams: ups})
	})
	return out
}

func (p *parser) cache(n *yaml.Node, c *Cache) {
	var minLine, maxLine int
	p.mapping(n, "cache", []string{"size", "min_ttl", "max_ttl", "serve_stale"}, func(key string, k, v *yaml.Node) {
		if isNull(v) {
			return
		}
		what := "cache." + key
		if key == "size" {
			if size, ok := p.integer(v, what); ok {
				if size < 0 {
					p.add(v.Line, "%s: must not be negative (0 disables the cache)", what)
					return
				}
				c.Size = size
			}
			return
		}
		d, ok := p.duration(v, what)
		if !ok {
			return
		}
		switch key {
		case "min_ttl":
			c.MinTTL, minLine = d, v.Line
		case "max_ttl":
			c.MaxTTL, maxLine = d, v.Line
		case "serve_stale":
			c.ServeStale = d
		}
	})
	switch {
	case maxLine > 0 && c.MaxTTL == 0 && c.Size > 0:
		p.add(maxLine, "cache.max_ttl: must be positive (size: 0 disables the cache)")
	case c.MinTTL > c.MaxTTL:
		p.add(max(minLine, maxLine), "cache: min_ttl %s is greater than max_ttl %s", fmtDuration(c.MinTTL), fmtDuration(c.MaxTTL))
	}
}

// path reads a file or directory path, resolving a relative one against
// the config file's directory so that the result does not depend on the
// directory Haven is started from.
func (p *parser) path(n *yaml.Node, what string) string {
	s, ok := p.str(n, what)
	if !ok || s == "" {
		return ""
	}
	return p.abs(s)
}

func (p *parser) abs(s string) string {
	if filepath.IsAbs(s) {
		return filepath.Clean(s)
	}
	return filepath.Join(p.dir, s)
}

func (p *parser) refresh(n *yaml.Node) time.Duration {
	d, ok := p.duration(n, "refresh")
	if !ok {
		return defaultRefresh
	}
	if d > 0 && d < minRefresh {
		p.add(n.Line, "refresh: %s is too often (at least 1m, or 0 for never)", fmtDuration(d))
		return defaultRefresh
	}
	return d
}

// names reads allow or deny: domain names, normalised and without
// duplicates (a name written twice is harmless, and scripts append).
func (p *parser) names(n *yaml.Node, what string) []string {
	items, _ := p.strings(n, what)
	var out []string
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		name, err := normalizeName(it.s)
		if err != nil {
			p.add(it.line, "%s: %q: %v", what, it.s, err)
			continue
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}

func (p *parser) log(n *yaml.Node, l *Log) {
	p.mapping(n, "log", []string{"level", "format"}, func(key string, k, v *yaml.Node) {
		if isNull(v) {
			return
		}
		s, ok := p.str(v, "log."+key)
		if !ok {
			return
		}
		s = strings.ToLower(s)
		switch {
		case key == "level" && (s == "debug" || s == "info" || s == "warn" || s == "error"):
			l.Level = s
		case key == "format" && (s == "text" || s == "json"):
			l.Format = s
		case key == "level":
			p.add(v.Line, "log.level: unknown level %q (want debug, info, warn or error)", s)
		default:
			p.add(v.Line, "log.format: unknown format %q (want text or json)", s)
		}
	})
}
