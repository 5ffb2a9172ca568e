package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// builtinLists names the lists embedded in the binary (builtin:NAME). It
// must match the lists the blocklist package embeds. bypass lists the DoH
// resolvers, VPNs and proxies that bypass_prevention blocks.
var builtinLists = []string{"adult", "bypass", "malware"}

// defaultPort is the port of each upstream scheme; ok is false for a
// scheme Haven does not speak.
func defaultPort(scheme string) (string, bool) {
	switch scheme {
	case "udp", "tcp":
		return "53", true
	case "tls":
		return "853", true
	case "https":
		return "443", true
	}
	return "", false
}

// listenAddr checks a host:port to listen on and returns it in canonical
// form (so that "[0::0]:53" and "[::]:53" are seen as the same address).
// Port 0 picks a free port, which tests use.
func listenAddr(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", errors.New(`want host:port, e.g. ":53" or "192.168.1.2:53"`)
	}
	if host != "" {
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return "", fmt.Errorf("host %q is not an IP address (leave it empty to listen on all addresses)", host)
		}
		host = ip.String()
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", fmt.Errorf("invalid port %q", port)
	}
	return net.JoinHostPort(host, strconv.FormatUint(n, 10)), nil
}

// ParseUpstream reads an upstream URL as the config file and the
// --upstream flag write it. A bare address ("9.9.9.9", "9.9.9.9:53",
// "2620:fe::fe") means plain DNS over UDP.
func ParseUpstream(s string) (Upstream, error) {
	if !strings.Contains(s, "://") {
		if ip, err := netip.ParseAddr(s); err == nil && ip.Is6() {
			s = "[" + s + "]"
		}
		s = "udp://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" {
		return Upstream{}, errors.New("not a URL (want e.g. tls://1.1.1.1:853)")
	}
	scheme := strings.ToLower(u.Scheme)
	port, ok := defaultPort(scheme)
	if !ok {
		return Upstream{}, fmt.Errorf("unsupported scheme %q (want udp, tcp, tls or https)", u.Scheme)
	}
	switch {
	case u.User != nil:
		return Upstream{}, errors.New("user info is not allowed")
	case u.RawQuery != "" || u.ForceQuery:
		return Upstream{}, errors.New("a query is not allowed")
	case u.Fragment != "":
		return Upstream{}, errors.New("a fragment is not allowed")
	}
	host := u.Hostname()
	if host == "" {
		return Upstream{}, errors.New("missing host")
	}
	ip, err := netip.ParseAddr(host)
	if err == nil {
		host = ip.String()
	} else if host, err = normalizeName(host); err != nil {
		return Upstream{}, fmt.Errorf("host: %w", err)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return Upstream{}, fmt.Errorf("invalid port %q", p)
		}
		port = strconv.FormatUint(n, 10)
	} else if strings.HasSuffix(u.Host, ":") {
		return Upstream{}, errors.New("empty port")
	}
	path := u.EscapedPath()
	if scheme == "https" {
		// RFC 8484 leaves the path to the server; /dns-query is what
		// every public DoH service uses.
		if path == "" || path == "/" {
			path = "/dns-query"
		}
	} else if path != "" {
		return Upstream{}, fmt.Errorf("a path is only allowed for https, not %s", scheme)
	}
	up := Upstream{Proto: scheme, Addr: net.JoinHostPort(host, port)}
	if scheme == "tls" || scheme == "https" {
		up.ServerName = ip.WithZone("").String()
		if !ip.IsValid() {
			up.ServerName = host
		}
	}
	// The https URL is the one requests go to, so it omits the default
	// port the way a browser would (the Host header then carries none).
	hostport := up.Addr
	if scheme == "https" && port == "443" {
		hostport = host
		if ip.Is6() {
			hostport = "[" + host + "]"
		}
	}
	// A zone's % must be escaped for the URL to parse again.
	up.URL = scheme + "://" + strings.Replace(hostport, "%", "%25", 1) + path
	return up, nil
}

// normalizeName checks a domain name and returns it in lower case,
// international names in punycode, without a trailing dot. Underscores are
// allowed: they occur in real names (_dmarc, ad_server) that people want to
// block or allow.
func normalizeName(s string) (string, error) {
	if _, err := netip.ParseAddr(s); err == nil {
		return "", errors.New("an IP address, not a domain name")
	}
	name := strings.TrimSuffix(s, ".")
	if name == "" {
		return "", errors.New("empty name")
	}
	if !isASCII(name) {
		a, err := idna.Lookup.ToASCII(name)
		if err != nil {
			return "", errors.New("not a valid international domain name")
		}
		name = a
	}
	name = strings.ToLower(name)
	if len(name) > 253 {
		return "", errors.New("name longer than 253 characters")
	}
	var last string
	for l := range strings.SplitSeq(name, ".") {
		if l == "" {
			return "", errors.New("empty label (two dots in a row?)")
		}
		if len(l) > 63 {
			return "", errors.New("label longer than 63 characters")
		}
		for i := 0; i < len(l); i++ {
			switch c := l[i]; {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			case c == '*':
				return "", errors.New("wildcards are not supported")
			default:
				return "", fmt.Errorf("invalid character %q", c)
			}
		}
		last = l
	}
	if strings.Trim(last, "0123456789") == "" {
		return "", errors.New("top-level label is all digits")
	}
	return name, nil
}

// fqdn is normalizeName with the trailing dot DNS messages carry.
func fqdn(s string) (string, error) {
	name, err := normalizeName(s)
	if err != nil {
		return "", err
	}
	return name + ".", nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// validCategory reports whether s matches ^[a-z][a-z0-9_-]{0,31}$: names
// that are safe in file names, metrics labels and URLs.
func validCategory(s string) bool {
	if len(s) == 0 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
