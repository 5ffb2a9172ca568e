package safesearch

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

// fakeZone is an authoritative stand-in for the upstreams: it answers from
// its records, with NXDOMAIN and an SOA for names it does not have, and
// remembers every request it got.
type fakeZone struct {
	records []dns.RR
	soa     *dns.SOA

	mu    sync.Mutex
	asked []*dns.Msg
}

func newFakeZone(tb testing.TB, zone string) *fakeZone {
	tb.Helper()
	z := &fakeZone{}
	zp := dns.NewZoneParser(strings.NewReader(zone), "", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		z.records = append(z.records, rr)
	}
	if err := zp.Err(); err != nil {
		tb.Fatalf("parse zone: %v", err)
	}
	soa, err := dns.NewRR("test. 900 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 120")
	if err != nil {
		tb.Fatal(err)
	}
	z.soa = soa.(*dns.SOA)
	return z
}

func (z *fakeZone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	z.mu.Lock()
	z.asked = append(z.asked, r.Copy())
	z.mu.Unlock()

	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = true
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	exists := false
	// Follow CNAMEs as a recursive resolver would.
	for hops := 0; hops < 8; hops++ {
		var cname *dns.CNAME
		for _, rr := range z.records {
			h := rr.Header()
			if h.Name != name || h.Class != q.Qclass {
				continue
			}
			exists = true
			switch {
			case h.Rrtype == q.Qtype:
				m.Answer = append(m.Answer, rr)
			case h.Rrtype == dns.TypeCNAME:
				cname = rr.(*dns.CNAME)
			}
		}
		if cname == nil || q.Qtype == dns.TypeCNAME {
			break
		}
		m.Answer = append(m.Answer, cname)
		name = cname.Target
	}
	if !exists {
		m.Rcode = dns.RcodeNameError
	}
	if len(m.Answer) == 0 {
		m.Ns = []dns.RR{z.soa}
	}
	w.WriteMsg(m)
}

// last returns the last request the zone got, or nil.
func (z *fakeZone) last() *dns.Msg {
	z.mu.Lock()
	defer z.mu.Unlock()
	if len(z.asked) == 0 {
		return nil
	}
	return z.asked[len(z.asked)-1]
}

func (z *fakeZone) count() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return len(z.asked)
}

// serve starts a DNS server for h on a free UDP port of 127.0.0.1 and
// returns its address; the test's cleanup stops it.
func serve(tb testing.TB, h dns.Handler) string {
	tb.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) }}
	errc := make(chan error, 1)
	go func() { errc <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-errc:
		tb.Fatalf("serve: %v", err)
	}
	tb.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// forwarder is the rest of the chain as Resolve sees it: a step that sends
// the query over UDP to addr and records what the cache would.
func forwarder(addr string) resolver.Resolver {
	c := &dns.Client{Net: "udp"}
	return resolver.Func(func(ctx context.Context, q *resolver.Query) (*dns.Msg, error) {
		r, _, err := c.ExchangeContext(ctx, q.Msg, addr)
		if err != nil {
			return nil, err
		}
		q.Trace.Cache = resolver.CacheMiss
		q.Trace.Upstream = addr
		return r, nil
	})
}
