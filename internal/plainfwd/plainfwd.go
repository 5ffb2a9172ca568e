// Package plainfwd is a deliberately plain caching DNS forwarder built on
// miekg/dns, the reference that cmd/haven-bench measures Haven against: a
// map blocklist, a mutex-protected map of packed answers, and misses sent
// over a pool of connected UDP sockets to one upstream, served by the
// library's default serve loop. It is what a competent Go programmer
// writes in an afternoon: honest (it caches, expires, checks replies and
// falls back to TCP), but with no policy, logging or tuning beyond that.
package plainfwd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Defaults for the zero values of Options.
const (
	DefaultCacheSize = 100000
	DefaultSockets   = 256
	DefaultTimeout   = 2 * time.Second
)

// Options configure a Forwarder.
type Options struct {
	// Upstream is the host:port every miss is forwarded to, over UDP (and
	// over TCP when a TCP client's answer came back truncated).
	Upstream string
	// Block lists the names answered NXDOMAIN, each with every name under
	// it; case and a trailing dot do not matter.
	Block []string
	// CacheSize is the most answers kept (0: DefaultCacheSize).
	CacheSize int
	// Sockets is the most idle upstream sockets kept for reuse (0:
	// DefaultSockets). More exchanges than that at once dial more sockets,
	// which are closed afterwards.
	Sockets int
	// Timeout bounds one upstream exchange (0: DefaultTimeout).
	Timeout time.Duration
	// Now is the clock that cache expiry is read on (nil: time.Now);
	// socket deadlines always use the real one.
	Now func() time.Time
}

// Forwarder is the dns.Handler: blocklist, then cache, then upstream. It
// is safe for concurrent use.
type Forwarder struct {
	upstream string
	block    map[string]struct{}
	cache    *cache
	pool     *pool
	timeout  time.Duration
	now      func() time.Time
}

// New returns a Forwarder as opt says. Close releases its sockets.
func New(opt Options) (*Forwarder, error) {
	if _, _, err := net.SplitHostPort(opt.Upstream); err != nil {
		return nil, fmt.Errorf("plainfwd: upstream %q: %w", opt.Upstream, err)
	}
	f := &Forwarder{
		upstream: opt.Upstream,
		block:    make(map[string]struct{}, len(opt.Block)),
		cache:    newCache(orDefault(opt.CacheSize, DefaultCacheSize)),
		timeout:  opt.Timeout,
		now:      opt.Now,
	}
	if f.timeout <= 0 {
		f.timeout = DefaultTimeout
	}
	if f.now == nil {
		f.now = time.Now
	}
	f.pool = newPool(opt.Upstream, orDefault(opt.Sockets, DefaultSockets))
	for _, n := range opt.Block {
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		if n == "" {
			return nil, errors.New("plainfwd: empty name in the blocklist")
		}
		f.block[n] = struct{}{}
	}
	return f, nil
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Close closes the idle upstream sockets; sockets of exchanges still
// running are closed when those end.
func (f *Forwarder) Close() error { return f.pool.close() }

// ServeDNS answers r: NXDOMAIN for a blocked name, the cached answer when
// there is one, else the upstream's (SERVFAIL when it fails).
func (f *Forwarder) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	if len(r.Question) != 1 || r.Opcode != dns.OpcodeQuery {
		rcode := dns.RcodeFormatError
		if r.Opcode != dns.OpcodeQuery {
			rcode = dns.RcodeNotImplemented
		}
		f.reply(w, r, rcode)
		return
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	if f.blocked(name) {
		f.reply(w, r, dns.RcodeNameError)
		return
	}
	k := key{name: name, qtype: q.Qtype, qclass: q.Qclass}
	if wire := f.cache.get(k, f.now()); wire != nil {
		out := make([]byte, len(wire))
		copy(out, wire)
		binary.BigEndian.PutUint16(out, r.Id)
		_, _ = w.Write(out)
		return
	}
	_, tcp := w.RemoteAddr().(*net.TCPAddr)
	wire, ttl, err := f.forward(r, tcp)
	if err != nil {
		f.reply(w, r, dns.RcodeServerFailure)
		return
	}
	if ttl > 0 {
		// Stored before the reply goes out, so that a client's next
		// query finds it. wire is never written to again, so the cache
		// may share it.
		f.cache.put(k, wire, f.now().Add(ttl))
	}
	_, _ = w.Write(wire)
}

// blocked reports whether name (lower case) or a parent of it is listed.
func (f *Forwarder) blocked(name string) bool {
	name = strings.TrimSuffix(name, ".")
	for {
		if _, ok := f.block[name]; ok {
			return true
		}
		i := strings.IndexByte(name, '.')
		if i < 0 {
			return false
		}
		name = name[i+1:]
	}
}

// reply answers r with rcode and nothing else.
func (f *Forwarder) reply(w dns.ResponseWriter, r *dns.Msg, rcode int) {
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	m.RecursionAvailable = true
	_ = w.WriteMsg(m)
}

// forward sends r upstream under a fresh ID and returns the reply's wire
// form with r's ID, and how long it may be cached (0: not at all).
func (f *Forwarder) forward(r *dns.Msg, tcp bool) ([]byte, time.Duration, error) {
	id := r.Id
	r.Id = dns.Id()
	query, err := r.Pack()
	upID := r.Id
	r.Id = id
	if err != nil {
		return nil, 0, fmt.Errorf("plainfwd: pack query: %w", err)
	}
	wire, err := f.pool.exchange(query, upID, time.Now().Add(f.timeout))
	if err != nil {
		return nil, 0, err
	}
	m := new(dns.Msg)
	if err := m.Unpack(wire); err != nil {
		return nil, 0, fmt.Errorf("plainfwd: unpack reply: %w", err)
	}
	if len(m.Question) != 1 || !strings.EqualFold(m.Question[0].Name, r.Question[0].Name) || m.Question[0].Qtype != r.Question[0].Qtype {
		return nil, 0, errors.New("plainfwd: reply to another question")
	}
	if m.Truncated && tcp {
		// The client can take the whole answer: fetch it over TCP,
		// which is rare enough not to need a pool.
		ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
		defer cancel()
		c := &dns.Client{Net: "tcp", Timeout: f.timeout}
		if m, _, err = c.ExchangeContext(ctx, r, f.upstream); err != nil {
			return nil, 0, fmt.Errorf("plainfwd: tcp upstream: %w", err)
		}
		if wire, err = m.Pack(); err != nil {
			return nil, 0, fmt.Errorf("plainfwd: pack reply: %w", err)
		}
	}
	binary.BigEndian.PutUint16(wire, id)
	return wire, cacheTTL(m), nil
}

// cacheTTL is how long m may be cached: its smallest TTL, for a negative
// answer its SOA's negative TTL (RFC 2308), and 0 for truncated answers,
// failures and answers with no record to take a TTL from.
func cacheTTL(m *dns.Msg) time.Duration {
	if m.Truncated || m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError {
		return 0
	}
	ttl, found := uint32(0), false
	low := func(t uint32) {
		if !found || t < ttl {
			ttl, found = t, true
		}
	}
	for _, rr := range m.Answer {
		low(rr.Header().Ttl)
	}
	for _, rr := range m.Ns {
		low(rr.Header().Ttl)
		if soa, ok := rr.(*dns.SOA); ok && len(m.Answer) == 0 {
			low(soa.Minttl)
		}
	}
	if !found || len(m.Answer) == 0 && !hasSOA(m.Ns) {
		return 0
	}
	return time.Duration(ttl) * time.Second
}

func hasSOA(rrs []dns.RR) bool {
	for _, rr := range rrs {
		if _, ok := rr.(*dns.SOA); ok {
			return true
		}
	}
	return false
}
