package querylog

import (
	"net/netip"
	"strings"
	"time"

	"github.com/havendns/haven/resolver"
)

// Entry is one answered query.
type Entry struct {
	Time     time.Time
	Client   netip.Addr // as seen; Log truncates it when Options.Anonymize is set
	Device   string
	Profile  string
	Name     string // question name, lower case, no trailing dot
	Type     uint16
	Proto    string // udp, tcp, dot, doh
	Decision string // allowed, blocked, rewritten, failed
	Category string
	Rule     string
	Cache    string // none, miss, hit, stale
	Upstream string
	Rcode    int
	Latency  time.Duration // stored with microsecond precision
}

// Row is an Entry read back from the log. One row stands for Count
// identical queries (see Options.Collapse): Time is the earliest of them,
// Latency the largest.
type Row struct {
	ID    int64 // increases with insertion; the paging cursor
	Count int   // queries the row stands for, at least 1
	Entry
}

// EntryOf builds the entry for q, answered with rcode at time at after
// latency. It allocates nothing: every string is q's or a constant.
func EntryOf(q *resolver.Query, rcode int, at time.Time, latency time.Duration) Entry {
	var name string
	var qtype uint16
	if q.Msg != nil && len(q.Msg.Question) > 0 {
		name, qtype = q.Name(), q.Type()
	}
	t := &q.Trace
	return Entry{
		Time:     at,
		Client:   q.Client,
		Device:   t.Device,
		Profile:  t.Profile,
		Name:     trimDot(name),
		Type:     qtype,
		Proto:    q.Proto.String(),
		Decision: t.Decision.String(),
		Category: t.Category,
		Rule:     t.Rule,
		Cache:    t.Cache.String(),
		Upstream: t.Upstream,
		Rcode:    rcode,
		Latency:  latency,
	}
}

// trimDot drops the trailing dot of a fully qualified name, keeping the
// root as ".".
func trimDot(name string) string {
	if len(name) > 1 && name[len(name)-1] == '.' {
		return name[:len(name)-1]
	}
	return name
}

// normalName is the form names are stored and searched in.
func normalName(name string) string { return strings.ToLower(trimDot(name)) }

// anonymize truncates a to its IPv4 /24 or IPv6 /48: enough to tell
// networks apart, not households or devices. IPv4-mapped IPv6 addresses
// count as IPv4.
func anonymize(a netip.Addr) netip.Addr {
	if !a.IsValid() {
		return a
	}
	a = a.Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.WithZone("").Prefix(bits)
	if err != nil {
		return netip.Addr{}
	}
	return p.Addr()
}

// storedAddr is the form of a client address the log keeps: unmapped and,
// when anonymising, truncated.
func storedAddr(a netip.Addr, anon bool) netip.Addr {
	a = a.Unmap()
	if anon {
		a = anonymize(a)
	}
	return a
}

// addrText is the stored text of an address in stored form: "" when there
// is none.
func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// clientText is the stored text of a client address.
func (l *Log) clientText(a netip.Addr) string {
	return addrText(storedAddr(a, l.opt.Anonymize))
}
