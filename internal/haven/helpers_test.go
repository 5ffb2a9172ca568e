package haven_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havendns/haven/config"
	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/internal/haven"
	"github.com/havendns/haven/policy/client"
	"github.com/miekg/dns"
)

// Helpers shared by the family-policy tests: a Haven started from a whole
// config body, queries sent from a chosen loopback source address, and a
// one-line summary of an answer that tables can compare.

// launch runs a Haven from a whole YAML config (nothing is added, so the
// test picks its own listen addresses) and closes it when the test ends.
func launch(tb testing.TB, body string, opt haven.Options) *haven.Haven {
	tb.Helper()
	h, _ := launchStoppable(tb, body, opt)
	return h
}

// launchStoppable is launch for tests that restart: stop closes the Haven
// now (later calls and the test's cleanup do nothing).
func launchStoppable(tb testing.TB, body string, opt haven.Options) (*haven.Haven, func()) {
	tb.Helper()
	file := filepath.Join(tb.TempDir(), "haven.yaml")
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		tb.Fatalf("config:\n%s\n%v", body, err)
	}
	h, err := haven.New(cfg, opt)
	if err != nil {
		tb.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := h.Close(ctx); err != nil {
				tb.Errorf("close: %v", err)
			}
		})
	}
	tb.Cleanup(stop)
	return h, stop
}

// fakeUpstream starts a fake resolver serving records and returns it with
// its URL for the config's upstreams.
func fakeUpstream(tb testing.TB, records ...string) (*dnstest.Upstream, string) {
	tb.Helper()
	up := dnstest.NewUpstream(tb, dnstest.ZoneHandler(records...))
	return up, "udp://" + up.Addr()
}

// query builds a query with EDNS (so that block answers carry their
// Extended DNS Error) and the given EDNS options.
func query(name string, qtype uint16, opts ...dns.EDNS0) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(1232, false)
	o := m.IsEdns0()
	o.Option = append(o.Option, opts...)
	return m
}

// exchangeFrom sends m to addr over netw ("udp" or "tcp") from the source
// address src ("" for the system's choice). It returns errors rather than
// failing the test so that goroutines can use it.
func exchangeFrom(src, netw, addr string, m *dns.Msg) (*dns.Msg, error) {
	c := &dns.Client{Net: netw, Timeout: 5 * time.Second}
	if src != "" {
		ip := net.ParseIP(src)
		if ip == nil {
			return nil, fmt.Errorf("source %q is not an IP address", src)
		}
		d := &net.Dialer{Timeout: 5 * time.Second}
		if netw == "tcp" {
			d.LocalAddr = &net.TCPAddr{IP: ip}
		} else {
			d.LocalAddr = &net.UDPAddr{IP: ip}
		}
		c.Dialer = d
	}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return nil, fmt.Errorf("%s %s from %s: %w", netw, m.Question[0].Name, src, err)
	}
	if r.Id != m.Id {
		return nil, fmt.Errorf("reply ID %d, query ID %d", r.Id, m.Id)
	}
	return r, nil
}

// askFrom sends one EDNS query over UDP from src and fails the test on a
// transport error.
func askFrom(tb testing.TB, src, addr, name string, qtype uint16, opts ...dns.EDNS0) *dns.Msg {
	tb.Helper()
	r, err := exchangeFrom(src, "udp", addr, query(name, qtype, opts...))
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// outcome sums an answer up in one line: the rcode, "blocked:<category>"
// when it carries Haven's Extended DNS Error 17, then each answer record
// as "TYPE rdata", joined by "; ". For example "NOERROR A 192.0.2.1" or
// "NXDOMAIN blocked:social".
func outcome(m *dns.Msg) string {
	parts := []string{dns.RcodeToString[m.Rcode]}
	if e := ede(m); e != nil {
		cat, ok := strings.CutPrefix(e.ExtraText, "blocked by Haven: ")
		if e.InfoCode != dns.ExtendedErrorCodeFiltered || !ok {
			cat = fmt.Sprintf("EDE%d(%s)", e.InfoCode, e.ExtraText)
		}
		parts[0] += " blocked:" + cat
	}
	var rrs []string
	for _, rr := range m.Answer {
		rrs = append(rrs, rdata(rr))
	}
	if len(rrs) > 0 {
		parts = append(parts, strings.Join(rrs, "; "))
	}
	return strings.Join(parts, " ")
}

// rdata is a record without its owner, TTL and class: "A 192.0.2.1".
func rdata(rr dns.RR) string {
	f := strings.SplitN(rr.String(), "\t", 5)
	if len(f) < 5 {
		return rr.String()
	}
	return f[3] + " " + f[4]
}

// minTTL is the smallest TTL in the answer and authority sections (and the
// SOA minimum), or -1 if there is no record.
func minTTL(m *dns.Msg) int {
	ttl := -1
	for _, rr := range append(append([]dns.RR(nil), m.Answer...), m.Ns...) {
		t := int(rr.Header().Ttl)
		if soa, ok := rr.(*dns.SOA); ok && int(soa.Minttl) < t {
			t = int(soa.Minttl)
		}
		if ttl < 0 || t < ttl {
			ttl = t
		}
	}
	return ttl
}

// Set moves the clock to t.
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// clockAt returns a clock showing t.
func clockAt(t time.Time) *clock { return &clock{now: t} }

// london is the zone of the schedule tests.
func london(tb testing.TB) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

// hasIPv6Loopback reports whether ::1 can be bound here.
func hasIPv6Loopback() bool {
	c, err := net.ListenPacket("udp", "[::1]:0")
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// mustWho is haven.ParseWho for a client the test names correctly.
func mustWho(tb testing.TB, s string) client.Who {
	tb.Helper()
	w, err := haven.ParseWho(s)
	if err != nil {
		tb.Fatal(err)
	}
	return w
}
