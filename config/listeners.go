package config

import (
	"fmt"
	"net"

	"gopkg.in/yaml.v3"
)

// listeners gathers the addresses each interface listens on, with where
// they were written, so that two interfaces given the same address are
// reported here rather than as a bind error at start.
type listeners struct {
	listen, tls, https []located
	listenSet          bool // listen was written (else the default)
	http               located
	tlsLine, httpsLine int
}

// addresses reads host:port addresses to listen on, in canonical form and
// without duplicates. required asks for at least one.
func (p *parser) addresses(n *yaml.Node, what string, required bool) []located {
	items, ok := p.strings(n, what)
	if required && ok && len(items) == 0 {
		p.add(n.Line, "%s: at least one address is required (leave the key out for the default)", what)
	}
	out := make([]located, 0, len(items))
	seen := make(map[string]int, len(items))
	for _, it := range items {
		addr, err := listenAddr(it.s)
		if err != nil {
			p.add(it.line, "%s: %q: %v", what, it.s, err)
			continue
		}
		if first, dup := seen[addr]; dup {
			p.add(it.line, "%s: %q: duplicate address (also at line %d)", what, it.s, first)
			continue
		}
		seen[addr] = it.line
		out = append(out, located{addr, it.line})
	}
	return out
}

func values(ls []located) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.s
	}
	return out
}

// tls reads {listen, server_name}: DNS-over-TLS listeners.
func (p *parser) tls(n *yaml.Node, t *TLSListen, l *listeners) {
	p.mapping(n, "tls", []string{"listen", "server_name"}, func(key string, k, v *yaml.Node) {
		if isNull(v) {
			return
		}
		if key == "listen" {
			l.tls = p.addresses(v, "tls.listen", false)
			t.Listen = values(l.tls)
			return
		}
		s, ok := p.str(v, "tls.server_name")
		if !ok {
			return
		}
		name, err := normalizeName(s)
		if err != nil {
			p.add(v.Line, "tls.server_name: %q: %v", s, err)
			return
		}
		t.ServerName = name
	})
}

// https reads {listen}: DNS-over-HTTPS listeners.
func (p *parser) https(n *yaml.Node, h *HTTPSListen, l *listeners) {
	p.mapping(n, "https", []string{"listen"}, func(key string, k, v *yaml.Node) {
		if isNull(v) {
			return
		}
		l.https = p.addresses(v, "https.listen", false)
		h.Listen = values(l.https)
	})
}

// cert reads {cert, key}: both, or neither for a generated certificate.
func (p *parser) cert(n *yaml.Node, c *Certificate) {
	p.mapping(n, "cert", []string{"cert", "key"}, func(key string, k, v *yaml.Node) {
		if isNull(v) {
			return
		}
		if key == "cert" {
			c.Cert = p.path(v, "cert.cert")
		} else {
			c.Key = p.path(v, "cert.key")
		}
	})
	switch {
	case c.Cert != "" && c.Key == "":
		p.add(n.Line, "cert: key is missing (give both cert and key, or neither for a generated certificate)")
	case c.Cert == "" && c.Key != "":
		p.add(n.Line, "cert: cert is missing (give both cert and key, or neither for a generated certificate)")
	}
}

// httpAddr reads the host:port of the local HTTP API.
func (p *parser) httpAddr(n *yaml.Node, l *listeners) string {
	s, ok := p.str(n, "http")
	if !ok {
		return ""
	}
	addr, err := listenAddr(s)
	if err != nil {
		p.add(n.Line, "http: %q: %v", s, err)
		return ""
	}
	l.http = located{addr, n.Line}
	return addr
}

// check runs the rules that span keys: no address used by two interfaces
// (all of them listen on TCP; port 0 picks a free port each time), and a
// generated certificate needs somewhere to be kept.
func (l *listeners) check(p *parser, c *Config) {
	type use struct {
		what, addr string
		line       int
	}
	byPort := make(map[string][]use)
	claim := func(what string, addrs []located) {
		for _, a := range addrs {
			host, port, _ := net.SplitHostPort(a.s)
			if port == "0" {
				continue
			}
			clash := -1
			for i, u := range byPort[port] {
				if u.addr == a.s || wildcard(host) || wildcard(hostOf(u.addr)) {
					clash = i
					break
				}
			}
			if clash < 0 {
				byPort[port] = append(byPort[port], use{what, a.s, a.line})
				continue
			}
			first := byPort[port][clash]
			where := " (the default)"
			if first.line > 0 {
				where = fmt.Sprintf(" (line %d)", first.line)
			}
			if first.addr == a.s {
				p.add(a.line, "%s: %q: also used by %s%s", what, a.s, first.what, where)
			} else {
				p.add(a.line, "%s: %q: overlaps %s %q%s: an address without a host, 0.0.0.0 or [::] listens on every address, IPv4 and IPv6, so list it alone for its port",
					what, a.s, first.what, first.addr, where)
			}
		}
	}
	if l.listen == nil && !l.listenSet {
		for _, a := range c.Listen {
			l.listen = append(l.listen, located{a, 0})
		}
	}
	claim("listen", l.listen)
	claim("tls.listen", l.tls)
	claim("https.listen", l.https)
	if l.http.s != "" {
		claim("http", []located{l.http})
	}

	if c.Cert.Cert != "" || c.Cert.Key != "" || c.DataDir != "" {
		return
	}
	switch {
	case len(c.TLS.Listen) > 0:
		p.add(l.tlsLine, "tls: a generated certificate needs data_dir")
	case len(c.HTTPS.Listen) > 0:
		p.add(l.httpsLine, "https: a generated certificate needs data_dir")
	}
}

// wildcard reports whether host, as listenAddr writes it, is one that Go
// binds on every address of both families (dual-stack).
func wildcard(host string) bool {
	return host == "" || host == "0.0.0.0" || host == "::"
}

func hostOf(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}
