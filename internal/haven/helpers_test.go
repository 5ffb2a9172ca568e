package haven_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/havendns/haven/config"
	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/internal/haven"
	"github.com/havendns/haven/policy/client"
	"github.com/miekg/dns"
)

// Helpers shared by the package's tests: a Haven started from a config
// body (launch, start, launchFile), queries sent over UDP or TCP from a
// chosen loopback source address, a one-line summary of an answer that
// tables can compare, the test clock, and a query load (queryLoop).

// loopbackListen is the listen line of a config that takes any free port
// on 127.0.0.1.
const loopbackListen = "listen: [\"127.0.0.1:0\"]\n"

// launch runs a Haven from a whole YAML config (nothing is added, so the
// test picks its own listen addresses) and closes it when the test ends.
func launch(tb testing.TB, body string, opt haven.Options) *haven.Haven {
	tb.Helper()
	h, _ := launchFile(tb, "", body, opt)
	return h
}

// start is launch with loopbackListen added to the YAML config body.
func start(tb testing.TB, body string, opt haven.Options) *haven.Haven {
	tb.Helper()
	return launch(tb, loopbackListen+body, opt)
}

// launchFile runs a Haven from body written to file, so that reload tests
// can rewrite it ("" for a fresh file in a temporary folder). stop closes
// the Haven now, for tests that restart; later calls and the test's
// cleanup do nothing.
func launchFile(tb testing.TB, file, body string, opt haven.Options) (h *haven.Haven, stop func()) {
	tb.Helper()
	if file == "" {
		file = filepath.Join(tb.TempDir(), "haven.yaml")
	}
	rewrite(tb, file, body)
	cfg, err := config.Load(file)
	if err != nil {
		tb.Fatalf("config:\n%s\n%v", body, err)
	}
	h, err = haven.New(cfg, opt)
	if err != nil {
		tb.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	var once sync.Once
	stop = func() {
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

// rewrite replaces the config (or list) file with body.
func rewrite(tb testing.TB, file, body string) {
	tb.Helper()
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		tb.Fatal(err)
	}
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
		from := ""
		if src != "" {
			from = " from " + src
		}
		q := m.Question[0]
		return nil, fmt.Errorf("%s %s %s%s: %w", netw, q.Name, dns.TypeToString[q.Qtype], from, err)
	}
	if r.Id != m.Id {
		return nil, fmt.Errorf("reply ID %d, query ID %d", r.Id, m.Id)
	}
	return r, nil
}

// ask sends one query over netw ("udp" or "tcp"), with EDNS if edns is
// set, and fails the test on a transport error.
func ask(tb testing.TB, netw, addr, name string, qtype uint16, edns bool) *dns.Msg {
	tb.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if edns {
		m.SetEdns0(1232, false)
	}
	r, err := exchangeFrom("", netw, addr, m)
	if err != nil {
		tb.Fatal(err)
	}
	return r
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

// kidsAndAdults is a name and the outcomes of its A query from the kid
// tablet (127.0.0.2) and from an adult (127.0.0.1).
type kidsAndAdults struct{ name, kids, adults string }

// checkKidsAndAdults asks each name from the kid tablet, then from an
// adult, and compares the outcomes.
func checkKidsAndAdults(tb testing.TB, addr string, tests []kidsAndAdults) {
	tb.Helper()
	for _, tc := range tests {
		if got := outcome(askFrom(tb, "127.0.0.2", addr, tc.name, dns.TypeA)); got != tc.kids {
			tb.Errorf("kids %s: %q, want %q", tc.name, got, tc.kids)
		}
		if got := outcome(askFrom(tb, "127.0.0.1", addr, tc.name, dns.TypeA)); got != tc.adults {
			tb.Errorf("adults %s: %q, want %q", tc.name, got, tc.adults)
		}
	}
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

// newClock returns a test clock at a fixed time, for the cache and the
// test to share.
func newClock() *dnstest.Clock {
	return dnstest.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
}

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

// queryLoop asks for name over UDP from several goroutines until stop is
// called, and reports how many queries were made and how many failed.
func queryLoop(addr func() string, name string) (stop func() (total, failed int64)) {
	ctx, cancel := context.WithCancel(context.Background())
	var total, failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Timeout: 2 * time.Second}
			for ctx.Err() == nil {
				m := new(dns.Msg)
				m.SetQuestion(name, dns.TypeA)
				r, _, err := c.Exchange(m, addr())
				total.Add(1)
				if err != nil || r.Rcode != dns.RcodeSuccess {
					failed.Add(1)
				}
			}
		}()
	}
	return func() (int64, int64) {
		cancel()
		wg.Wait()
		return total.Load(), failed.Load()
	}
}
