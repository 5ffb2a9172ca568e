package server

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/resolver"
	"github.com/havendns/haven/resolver/upstream"
	"github.com/miekg/dns"
)

// prefetchRig is a batched UDP server with prefetching, in front of a
// chain that answers from a prefetched answer when it has one and asks
// the upstream itself when not, as the real chain's forwarder does; the
// upstream misbehaves by name.
type prefetchRig struct {
	s  *testServer
	up *dnstest.Upstream

	mu    sync.Mutex
	how   map[string][]string // by name: "prefetched" or "chain", per run
	asked map[string]int      // upstream queries, by name
	ports map[int]bool        // upstream queries' source ports
	first map[string]*dns.Msg // the first upstream query, by name
}

func newPrefetchRig(t *testing.T) *prefetchRig {
	t.Helper()
	r := &prefetchRig{how: map[string][]string{}, asked: map[string]int{}, ports: map[int]bool{}, first: map[string]*dns.Msg{}}
	r.up = dnstest.NewUpstream(t, dns.HandlerFunc(r.upstream))
	upAddr := netip.MustParseAddrPort(r.up.Addr())
	chain := resolver.Func(func(ctx context.Context, q *resolver.Query) (*dns.Msg, error) {
		var m *dns.Msg
		if p := q.Prefetched; p != nil {
			if strings.HasPrefix(q.Name(), "refuse.") {
				p.Refused = true
				return nil, resolver.ErrWouldWait
			}
			r.note(q.Name(), "prefetched")
			m = p.Msg
		} else {
			r.note(q.Name(), "chain")
			// Over TCP: what the prefetch could not settle was most often
			// too large for UDP.
			c := &dns.Client{Net: "tcp", Timeout: time.Second}
			up := q.Msg.Copy()
			up.Id = dns.Id()
			var err error
			if m, _, err = c.ExchangeContext(ctx, up, r.up.Addr()); err != nil {
				return nil, err
			}
		}
		m.Id = q.Msg.Id
		m.Question = q.Msg.Question
		return m, nil
	})
	r.s = startTLS(t, Options{
		Listen: []string{"127.0.0.1:0"}, Resolver: chain, BatchUDP: true,
		Subject:      func(netip.Addr) (string, uint64) { return "kids", 1 },
		PrefetchWait: 300 * time.Millisecond,
		Prefetch: func(q *resolver.Query, id uint16, buf []byte) ([]byte, netip.AddrPort, string, bool) {
			if strings.HasPrefix(q.Name(), "blocked.") {
				return nil, netip.AddrPort{}, "", false
			}
			m := new(dns.Msg)
			m.SetQuestion(q.Name(), q.Type())
			m.Id = id
			w, err := m.PackBuffer(buf)
			return w, upAddr, "udp://" + upAddr.String(), err == nil
		},
	}, nil)
	return r
}

// dialPrefetchRig starts a rig and connects one client socket to it, so
// that every query goes to the same reader; the socket is closed when the
// test ends.
func dialPrefetchRig(t *testing.T) (*prefetchRig, net.Conn) {
	t.Helper()
	if !batchSupported {
		t.Skip("batched UDP needs Linux")
	}
	r := newPrefetchRig(t)
	c, err := net.Dial("udp", r.s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return r, c
}

func (r *prefetchRig) note(name, how string) {
	r.mu.Lock()
	r.how[name] = append(r.how[name], how)
	r.mu.Unlock()
}

// upstream answers by the name's first label: "tc" truncated over UDP,
// "big" with 300 records over UDP (more than a reader's buffer),
// "fail" SERVFAIL and "drop" nothing the first time, "slow" after 100 ms,
// "spoof" first with
// the answer to another question under the same ID, "blackhole" never;
// anything else A 192.0.2.1.
func (r *prefetchRig) upstream(w dns.ResponseWriter, q *dns.Msg) {
	name := q.Question[0].Name
	udp := w.RemoteAddr().Network() == "udp"
	r.mu.Lock()
	r.asked[name]++
	n := r.asked[name]
	if udp {
		r.ports[w.RemoteAddr().(*net.UDPAddr).Port] = true
	}
	if n == 1 {
		r.first[name] = q.Copy()
	}
	r.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(q)
	a, _ := dns.NewRR(name + " 300 IN A 192.0.2.1")
	m.Answer = []dns.RR{a}
	switch strings.SplitN(name, ".", 2)[0] {
	case "tc":
		if udp {
			m.Answer, m.Truncated = nil, true
		}
	case "big":
		if udp {
			for i := range 300 {
				rr, _ := dns.NewRR(fmt.Sprintf("%s 300 IN A 10.0.%d.%d", name, i/256, i%256))
				m.Answer = append(m.Answer, rr)
			}
		}
	case "fail":
		if n == 1 {
			m.Answer, m.Rcode = nil, dns.RcodeServerFailure
		}
	case "drop":
		if n == 1 {
			return
		}
	case "blackhole":
		return
	case "slow":
		time.Sleep(100 * time.Millisecond)
	case "spoof":
		other := m.Copy()
		other.Question[0].Name = "other.test."
		bad, _ := dns.NewRR("other.test. 300 IN A 198.51.100.66")
		other.Answer = []dns.RR{bad}
		w.WriteMsg(other)
	}
	w.WriteMsg(m)
}

// TestPrefetch sends queries through the prefetching path and checks who
// answered them and how: the chain with the prefetched answer, or a
// worker asking again when the answer could not be used as it was.
func TestPrefetch(t *testing.T) {
	if !batchSupported {
		t.Skip("batched UDP needs Linux")
	}
	r := newPrefetchRig(t)
	cases := []struct {
		name     string
		how      string // runs of the chain
		upstream int    // queries the upstream had
	}{
		{"ok.test.", "prefetched", 1},
		{"tc.test.", "chain", 2},         // the prefetch, then the chain over TCP
		{"big.test.", "chain", 2},        // cut short by the reader's buffer
		{"fail.test.", "chain", 2},       // SERVFAIL: the chain asks again
		{"drop.test.", "chain", 2},       // unanswered for PrefetchWait
		{"spoof.test.", "prefetched", 1}, // the other answer is ignored
		{"refuse.test.", "chain", 2},     // the chain would not take it
		{"blocked.test.", "chain", 1},    // Prefetch said no
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := query(strings.ToUpper(c.name[:1])+c.name[1:], dns.TypeA)
			m.Id = 777
			resp, _, err := (&dns.Client{Timeout: clientDeadline}).Exchange(m, r.s.Addrs()[0].String())
			if err != nil {
				t.Fatal(err)
			}
			if resp.Id != 777 || resp.Question[0].Name != m.Question[0].Name {
				t.Errorf("answer %d %q to query 777 %q", resp.Id, resp.Question[0].Name, m.Question[0].Name)
			}
			checkA(t, resp, "192.0.2.1")
			r.s.idle(t)
			r.mu.Lock()
			defer r.mu.Unlock()
			if got := strings.Join(r.how[c.name], ","); got != c.how {
				t.Errorf("chain ran %q, want %q", got, c.how)
			}
			if got := r.asked[c.name]; got != c.upstream {
				t.Errorf("upstream asked %d times, want %d", got, c.upstream)
			}
		})
	}
	// What went upstream is what Prefetch packed: the name in lower case.
	r.mu.Lock()
	q := r.first["ok.test."]
	r.mu.Unlock()
	if q == nil || q.Question[0].Name != "ok.test." || !q.RecursionDesired || len(q.Extra) != 0 {
		t.Errorf("upstream query for Ok.test.: %v", q)
	}
}

// TestPrefetchFollows asks one new name from ten client sockets at once,
// so from both readers: the name goes upstream once, and every query gets
// the answer, each through its own run of the chain.
func TestPrefetchFollows(t *testing.T) {
	if !batchSupported {
		t.Skip("batched UDP needs Linux")
	}
	r := newPrefetchRig(t)
	const n = 10
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := query("slow.test.", dns.TypeA)
			m.Id = uint16(1000 + i)
			resp, _, err := (&dns.Client{Timeout: clientDeadline}).Exchange(m, r.s.Addrs()[0].String())
			if err != nil {
				t.Error(err)
				return
			}
			if resp.Id != m.Id {
				t.Errorf("answer %d to query %d", resp.Id, m.Id)
			}
			checkA(t, resp, "192.0.2.1")
		}()
	}
	wg.Wait()
	r.s.idle(t)
	r.mu.Lock()
	defer r.mu.Unlock()
	if got := r.asked["slow.test."]; got != 1 {
		t.Errorf("upstream asked %d times for %d queries at once, want once", got, n)
	}
	if got := strings.Count(strings.Join(r.how["slow.test."], ","), "prefetched"); got != n {
		t.Errorf("chain ran %v, want %d runs on the prefetched answer", r.how["slow.test."], n)
	}
}

// TestPrefetchRotates asks 1100 new names from one client socket, so from
// one reader, in bursts that the reader takes a few at a time: its
// upstream socket takes a new source port after prefetchRotate queries,
// the queries of the batch it rotates in go out on the new one, and the
// retired socket is closed once its queries are answered.
func TestPrefetchRotates(t *testing.T) {
	r, c := dialPrefetchRig(t)
	conn := &dns.Conn{Conn: c}
	const n, burst = prefetchRotate + 76, 50
	for i := 0; i < n; i += burst {
		for j := i; j < i+burst; j++ {
			if err := conn.WriteMsg(query(fmt.Sprintf("n%d.test.", j), dns.TypeA)); err != nil {
				t.Fatal(err)
			}
		}
		for range burst {
			conn.SetReadDeadline(time.Now().Add(clientDeadline))
			resp, err := conn.ReadMsg()
			if err != nil {
				t.Fatal(err)
			}
			checkA(t, resp, "192.0.2.1")
		}
	}
	r.s.idle(t)
	r.mu.Lock()
	ports := len(r.ports)
	for name, how := range r.how {
		if len(how) != 1 || how[0] != "prefetched" {
			t.Errorf("%s: chain ran %v, want once on the prefetched answer", name, how)
		}
	}
	r.mu.Unlock()
	if ports != 2 {
		t.Errorf("%d queries went upstream from %d source ports, want 2", n, ports)
	}
	pf := r.s.batch[0].pf
	waitFor(t, "the retired socket to close", func() bool {
		pf.mu.Lock()
		defer pf.mu.Unlock()
		return len(pf.socks) == 1
	})
}

// TestPrefetchShutdown shuts the server down while a prefetched query
// waits for an answer that never comes: Shutdown returns once its context
// ends, not later.
func TestPrefetchShutdown(t *testing.T) {
	r, c := dialPrefetchRig(t)
	w, _ := query("blackhole.test.", dns.TypeA).Pack()
	if _, err := c.Write(w); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the query to go upstream", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.asked["blackhole.test."] == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := r.s.Shutdown(ctx); err == nil {
		t.Error("shutdown with a query waiting: no error")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v with a 300ms context", d)
	}
}

// BenchmarkMissUDP is one query of a new name through a batched server to
// a fake upstream over loopback, clients and upstream included, with the
// upstream package's forwarder as the chain: by a worker per query, or
// prefetched by the readers. Eight clients ask at once, so that batches
// form as under load.
func BenchmarkMissUDP(b *testing.B) {
	if !batchSupported {
		b.Skip("batched UDP needs Linux")
	}
	for _, prefetch := range []bool{false, true} {
		name := "worker"
		if prefetch {
			name = "prefetch"
		}
		b.Run(name, func(b *testing.B) {
			up := dnstest.NewUpstream(b, dnstest.EchoHandler())
			u, err := upstream.New(upstream.Options{Proto: "udp", Addr: up.Addr()})
			if err != nil {
				b.Fatal(err)
			}
			fwd := upstream.NewForwarder(upstream.NewGroup([]upstream.Upstream{u}, upstream.GroupOptions{}), nil)
			b.Cleanup(func() { fwd.Close() })
			opt := Options{Listen: []string{"127.0.0.1:0"}, Resolver: fwd, BatchUDP: true,
				Subject: func(netip.Addr) (string, uint64) { return "kids", 1 }}
			if prefetch {
				opt.Prefetch = func(q *resolver.Query, id uint16, buf []byte) ([]byte, netip.AddrPort, string, bool) {
					to, who, ok := fwd.Target(q.Name())
					w, err := upstream.PackQuery(buf, id, q.Msg)
					return w, to, who, ok && err == nil
				}
			}
			s := startTLS(b, opt, nil)
			addr := s.Addrs()[0].String()
			var next atomic.Int64
			b.SetParallelism(4) // 8 clients on 2 CPUs
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c, err := net.Dial("udp", addr)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				conn := &dns.Conn{Conn: c}
				for pb.Next() {
					if err := conn.WriteMsg(query(fmt.Sprintf("b%d.test.", next.Add(1)), dns.TypeA)); err != nil {
						b.Error(err)
						return
					}
					conn.SetReadDeadline(time.Now().Add(clientDeadline))
					if _, err := conn.ReadMsg(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
