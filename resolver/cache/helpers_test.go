package cache

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

// errUpstream is what a failing fake next step returns.
var errUpstream = errors.New("upstream failed")

// newClock returns a test clock at the tests' fixed start time.
func newClock() *dnstest.Clock { return dnstest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) }

// upstream is a fake next step that counts its calls and answers with
// answer, which gets the request.
type upstream struct {
	calls  atomic.Int64
	answer func(req *dns.Msg) (*dns.Msg, error)
}

func (u *upstream) step() resolver.Func {
	return func(_ context.Context, q *resolver.Query) (*dns.Msg, error) {
		u.calls.Add(1)
		q.Trace.Upstream = "test"
		return u.answer(q.Msg)
	}
}

// newCache returns a cache over a fresh upstream answering with answer, and
// its clock.
func newCache(opt Options, answer func(*dns.Msg) (*dns.Msg, error)) (*Cache, *upstream, *dnstest.Clock) {
	u := &upstream{answer: answer}
	clk := newClock()
	if opt.Size == 0 {
		opt.Size = 100
	}
	opt.Now = clk.Now
	return New(u.step(), opt), u, clk
}

func query(name string, qtype uint16) *resolver.Query {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return &resolver.Query{Msg: m}
}

func mustRR(tb testing.TB, s string) dns.RR {
	tb.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		tb.Fatalf("NewRR(%q): %v", s, err)
	}
	return rr
}

func rrs(tb testing.TB, ss ...string) []dns.RR {
	tb.Helper()
	var out []dns.RR
	for _, s := range ss {
		out = append(out, mustRR(tb, s))
	}
	return out
}

// replyWith returns an answer function that replies to every request with
// the given rcode and sections (copied, since the cache changes answers in
// place).
func replyWith(rcode int, answer, ns, extra []dns.RR) func(*dns.Msg) (*dns.Msg, error) {
	return func(req *dns.Msg) (*dns.Msg, error) {
		m := new(dns.Msg)
		m.SetRcode(req, rcode)
		for _, rr := range answer {
			m.Answer = append(m.Answer, dns.Copy(rr))
		}
		for _, rr := range ns {
			m.Ns = append(m.Ns, dns.Copy(rr))
		}
		for _, rr := range extra {
			m.Extra = append(m.Extra, dns.Copy(rr))
		}
		return m, nil
	}
}

// aRecord answers every request with one A record of the given TTL for the
// asked name.
func aRecord(ttl uint32) func(*dns.Msg) (*dns.Msg, error) {
	return func(req *dns.Msg) (*dns.Msg, error) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Answer = []dns.RR{&dns.A{
			Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl},
			A:   []byte{192, 0, 2, 1},
		}}
		return m, nil
	}
}

func ask(tb testing.TB, c *Cache, q *resolver.Query) *dns.Msg {
	tb.Helper()
	m, err := c.Resolve(context.Background(), q)
	if err != nil {
		tb.Fatalf("Resolve(%s): %v", q.Name(), err)
	}
	if m == nil {
		tb.Fatalf("Resolve(%s): nil answer", q.Name())
	}
	return m
}

// ttls returns the TTLs of every record of m except OPT, section by
// section.
func ttls(m *dns.Msg) []uint32 {
	var out []uint32
	eachRR(m, func(h *dns.RR_Header) { out = append(out, h.Ttl) })
	return out
}

// ede returns the Extended DNS Error info codes in m's OPT.
func ede(m *dns.Msg) []uint16 {
	o := m.IsEdns0()
	if o == nil {
		return nil
	}
	var out []uint16
	for _, e := range o.Option {
		if x, ok := e.(*dns.EDNS0_EDE); ok {
			out = append(out, x.InfoCode)
		}
	}
	return out
}
