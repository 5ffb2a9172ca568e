package haven_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

// The chaos tests break what Haven depends on, one fault at a time, and
// check that clients still get answers: from a healthy upstream when there
// is one, from the stale cache when there is none, and otherwise an error
// answer in time, never silence. Everything runs on 127.0.0.1.

// clientDeadline is how long a stub resolver waits before giving up (the
// usual 5 s, minus a margin for a loaded test machine): an answer later
// than this is as bad as none.
const clientDeadline = 4 * time.Second

// upstreamFault is one way an upstream can fail.
type upstreamFault struct {
	name string
	// start starts the faulty upstream and returns its URL, a counter of
	// what reached it (queries, datagrams or connections), and the roots
	// to trust for a TLS one.
	start func(t *testing.T) (url string, count func() int64, roots *x509.CertPool)
	// alone is the rcode a client gets when this is the only upstream:
	// SERVFAIL, or the upstream's own error answer, which the group passes
	// on when no upstream does better.
	alone int
}

func upstreamFaults() []upstreamFault {
	udp := func(h dns.Handler) func(t *testing.T) (string, func() int64, *x509.CertPool) {
		return func(t *testing.T) (string, func() int64, *x509.CertPool) {
			up := dnstest.NewUpstream(t, h)
			return "udp://" + up.Addr(), up.Count, nil
		}
	}
	tcp := func(h dns.Handler) func(t *testing.T) (string, func() int64, *x509.CertPool) {
		return func(t *testing.T) (string, func() int64, *x509.CertPool) {
			up := dnstest.NewUpstream(t, h)
			return "tcp://" + up.Addr(), up.Count, nil
		}
	}
	good := dnstest.ZoneHandler(zone...)
	return []upstreamFault{
		{name: "timeout", start: udp(dnstest.DropHandler()), alone: dns.RcodeServerFailure},
		{name: "slow 3s", start: udp(dnstest.DelayHandler(3*time.Second, good)), alone: dns.RcodeServerFailure},
		{name: "SERVFAIL", start: udp(dnstest.RcodeHandler(dns.RcodeServerFailure)), alone: dns.RcodeServerFailure},
		{name: "REFUSED", start: udp(dnstest.RcodeHandler(dns.RcodeRefused)), alone: dns.RcodeServerFailure},
		{name: "wrong ID", start: udp(dnstest.WrongIDHandler(good)), alone: dns.RcodeServerFailure},
		{name: "wrong question", start: udp(dnstest.WrongQuestionHandler(good)), alone: dns.RcodeServerFailure},
		{name: "wrong ID over TCP", start: tcp(dnstest.WrongIDHandler(good)), alone: dns.RcodeServerFailure},
		{name: "truncated, TCP retry reset", start: func(t *testing.T) (string, func() int64, *x509.CertPool) {
			raw := dnstest.NewRawUDP(t, dnstest.TruncatedReply())
			rst := dnstest.NewResetTCP(t, raw.Addr())
			// Counting the TCP retries proves the UDP answer was taken.
			return "udp://" + raw.Addr(), rst.Count, nil
		}, alone: dns.RcodeServerFailure},
		{name: "garbage", start: func(t *testing.T) (string, func() int64, *x509.CertPool) {
			raw := dnstest.NewRawUDP(t, dnstest.GarbageReply(uint64(time.Now().UnixNano())))
			return "udp://" + raw.Addr(), raw.Count, nil
		}, alone: dns.RcodeServerFailure},
		{name: "TCP reset", start: func(t *testing.T) (string, func() int64, *x509.CertPool) {
			rst := dnstest.NewResetTCP(t, "127.0.0.1:0")
			return "tcp://" + rst.Addr(), rst.Count, nil
		}, alone: dns.RcodeServerFailure},
		{name: "TLS reset after handshake", start: func(t *testing.T) (string, func() int64, *x509.CertPool) {
			rst := dnstest.NewResetTLS(t)
			return "tls://" + rst.Addr(), rst.Count, rst.RootCAs()
		}, alone: dns.RcodeServerFailure},
	}
}

// timedAsk is ask that also fails the test if the answer came after the
// client's deadline.
func timedAsk(t *testing.T, addr, name string, edns bool) *dns.Msg {
	t.Helper()
	begin := time.Now()
	r := ask(t, "udp", addr, name, dns.TypeA, edns)
	if took := time.Since(begin); took > clientDeadline {
		t.Errorf("%s answered after %v, past the client's deadline", name, took.Round(time.Millisecond))
	}
	return r
}

func answerIs(t *testing.T, r *dns.Msg, want string) {
	t.Helper()
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("rcode %s, %d answers; want NOERROR with %s", dns.RcodeToString[r.Rcode], len(r.Answer), want)
	}
	if a, ok := r.Answer[0].(*dns.A); !ok || a.A.String() != want {
		t.Fatalf("answer %v, want %s", r.Answer[0], want)
	}
}

// TestUpstreamFaults puts each faulty upstream first and a healthy one
// second: the healthy one answers in time, the faulty one is then skipped
// while it backs off, and when the healthy one goes too, the cache serves
// what it has, stale. With the faulty upstream alone, the client gets an
// error answer in time.
func TestUpstreamFaults(t *testing.T) {
	t.Parallel()
	concurrently(t, upstreamFaults(), func(f upstreamFault) string { return f.name }, func(t *testing.T, f upstreamFault) {
		faultyURL, faulty, roots := f.start(t)
		opt := haven.Options{}
		if roots != nil {
			opt.UpstreamTLS = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		}

		t.Run("failover", func(t *testing.T) {
			healthy := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
			// The clock drives health and the cache: frozen, the faulty
			// upstream stays in back-off until the test moves it on.
			clk := newClock()
			opt := opt
			opt.Now = clk.Now
			h := start(t, fmt.Sprintf(`upstreams: [%q, "udp://%s"]
upstream: {timeout: 1s}
cache: {serve_stale: 1h}
lists: {}
block: []
`, faultyURL, healthy.Addr()), opt)

			answerIs(t, timedAsk(t, h.Addr(), "example.com.", true), "192.0.2.1")
			if faulty() == 0 {
				t.Fatalf("the faulty upstream was never asked: the test proves nothing")
			}
			if healthy.Count() != 1 {
				t.Errorf("healthy upstream asked %d times, want 1", healthy.Count())
			}

			// One failure puts it in back-off: the next query goes
			// straight to the healthy upstream.
			before := faulty()
			answerIs(t, timedAsk(t, h.Addr(), "good.test.", false), "192.0.2.3")
			if n := faulty(); n != before {
				t.Errorf("faulty upstream asked again (%d, was %d) while backing off", n, before)
			}

			// Both down now; example.com expired 5 minutes ago and is
			// within serve_stale.
			healthy.Close()
			clk.Advance(10 * time.Minute)
			r := timedAsk(t, h.Addr(), "example.com.", true)
			answerIs(t, r, "192.0.2.1")
			if e := ede(r); e == nil || e.InfoCode != dns.ExtendedErrorCodeStaleAnswer {
				t.Errorf("stale answer EDE %v, want code 3 (Stale Answer)", e)
			}
			if faulty() == before {
				t.Errorf("faulty upstream not tried again once its back-off was over")
			}
		})

		t.Run("alone", func(t *testing.T) {
			h := start(t, fmt.Sprintf("upstreams: [%q]\nupstream: {timeout: 1s}\nlists: {}\nblock: []\n", faultyURL), opt)
			r := timedAsk(t, h.Addr(), "example.com.", false)
			if r.Rcode != f.alone {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[f.alone])
			}
			if len(r.Answer) != 0 {
				t.Errorf("failed query has answers: %v", r.Answer)
			}
		})
	})
}

// concurrently runs one subtest per case, all at once. The chaos cases
// spend their time waiting for timeouts, not on the CPU, so they are
// started together instead of queueing for the -parallel slots (one per
// CPU by default): t.Run may be called from several goroutines.
func concurrently[C any](t *testing.T, cases []C, name func(C) string, f func(*testing.T, C)) {
	t.Helper()
	var wg sync.WaitGroup
	for _, c := range cases {
		wg.Go(func() { t.Run(name(c), func(t *testing.T) { f(t, c) }) })
	}
	wg.Wait()
}

// TestUpstreamQueryIDsAndPorts records the upstream queries of 50 client
// queries at a raw UDP fake: each must come with its own random ID, so
// that an off-path attacker cannot guess it (the Kaminsky attack needs the
// ID and the source port). Source ports come from the upstream's socket
// pool, each socket retired after 1,024 queries: after more queries than
// that a new, random port must be in use (resolver/upstream tests the
// retirement itself).
func TestUpstreamQueryIDsAndPorts(t *testing.T) {
	t.Parallel()
	raw := dnstest.NewRawUDP(t, func(d dnstest.Datagram) [][]byte {
		q := new(dns.Msg)
		if q.Unpack(d.Data) != nil || len(q.Question) != 1 {
			return nil
		}
		m := new(dns.Msg)
		m.SetReply(q)
		m.Answer = []dns.RR{&dns.A{
			Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A:   net.IPv4(192, 0, 2, 7),
		}}
		b, err := m.Pack()
		if err != nil {
			return nil
		}
		return [][]byte{b}
	})
	h := start(t, fmt.Sprintf("upstreams: [\"udp://%s\"]\ncache: {size: 0}\nlists: {}\nblock: []\n", raw.Addr()), haven.Options{})
	// The client always asks with the same ID, so any variety upstream
	// is Haven's own.
	const n = 50
	c := &dns.Client{Timeout: 5 * time.Second}
	ask := func(i int) {
		m := new(dns.Msg)
		m.SetQuestion("example.com.", dns.TypeA)
		m.Id = 4242
		r, _, err := c.Exchange(m, h.Addr())
		if err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		answerIs(t, r, "192.0.2.7")
	}
	for i := range n {
		ask(i)
	}
	got := raw.Received()
	if len(got) != n {
		t.Fatalf("%d upstream queries for %d client queries", len(got), n)
	}
	var ids []int
	for _, d := range got {
		ids = append(ids, int(d.Data[0])<<8|int(d.Data[1]))
	}
	distinct, sequential := map[int]bool{}, 0
	for i, v := range ids {
		distinct[v] = true
		if i > 0 && (v-ids[i-1] == 1 || v-ids[i-1] == -1) {
			sequential++
		}
	}
	// 50 random 16-bit values repeat now and then (birthday), but not
	// much; a counter or a fixed value fails at once.
	if len(distinct) < n-5 {
		t.Errorf("%d distinct upstream IDs in %d queries: %v", len(distinct), n, ids)
	}
	if sequential > 5 {
		t.Errorf("%d of %d upstream IDs follow the previous one: %v", sequential, n, ids)
	}
	if distinct[4242] && len(distinct) == 1 {
		t.Errorf("the client's ID went upstream")
	}
	for i := n; i < 1100; i++ {
		ask(i)
	}
	ports := map[uint16]bool{}
	for _, d := range raw.Received() {
		ports[d.From.Port()] = true
	}
	if len(ports) < 2 {
		t.Errorf("1100 upstream queries all from port(s) %v: sockets are not retired", ports)
	}
}
