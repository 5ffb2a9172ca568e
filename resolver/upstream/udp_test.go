package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/miekg/dns"
)

// TestUDPConcurrentExchanges: queries all in flight at once, answered in
// reverse order, each get their own answer, whatever the pool's shape.
func TestUDPConcurrentExchanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                     string
		n                        int
		sockets, spread, perSock int
		pooled                   int // sockets the pool keeps, full ones' overflow included
	}{
		{"one socket", 150, 1, 1000, 1000, 1},
		{"default pool", 100, 0, 0, 0, 0},
		{"pooled sockets past full ones", 40, 2, 1, 4, 6},
		{"one-offs past the pool", 40, 2, 1, 4, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHeldUpstream(t, "127.0.0.1:0")
			u := newTestUDP(t, h.addr(), func(p *udpPool) {
				if tc.sockets > 0 {
					p.maxSockets, p.spread, p.maxInflight, p.maxPooled = tc.sockets, tc.spread, tc.perSock, tc.pooled
				}
			})
			results := make([]<-chan result, tc.n)
			queries := make([]*dns.Msg, tc.n)
			for i := range tc.n {
				queries[i] = query(fmt.Sprintf("q%d.example.", i), dns.TypeA)
				queries[i].Id = uint16(i) // the same on every socket: the pool picks its own
				results[i] = exchangeAsync(context.Background(), u, queries[i])
			}
			held := make([]heldQuery, tc.n)
			for i := range held {
				held[i] = h.next()
			}
			// Every query is in flight: no ID twice on a port, and no port
			// with more than the pool allows.
			ids := make(map[int]map[uint16]bool)
			for _, q := range held {
				port := q.from.Port
				if ids[port] == nil {
					ids[port] = make(map[uint16]bool)
				}
				if ids[port][q.msg.Id] {
					t.Fatalf("ID %d twice in flight on port %d", q.msg.Id, port)
				}
				ids[port][q.msg.Id] = true
			}
			maxPerPort := u.pool.maxInflight
			for port, set := range ids {
				if len(set) > maxPerPort {
					t.Errorf("port %d has %d queries in flight, want at most %d", port, len(set), maxPerPort)
				}
			}
			if tc.sockets == 1 && len(ids) != 1 {
				t.Errorf("%d ports, want 1", len(ids))
			}
			for i := len(held) - 1; i >= 0; i-- {
				var n int
				fmt.Sscanf(held[i].msg.Question[0].Name, "q%d.", &n)
				h.send(held[i], answer(held[i], fmt.Sprintf("10.0.%d.%d", n>>8, n&255)))
			}
			for i, c := range results {
				res := <-c
				if res.err != nil {
					t.Fatalf("query %d: %v", i, res.err)
				}
				want := fmt.Sprintf("10.0.%d.%d", i>>8, i&255)
				if got := firstA(res.r); got != want || res.r.Id != uint16(i) || res.r.Question[0].Name != queries[i].Question[0].Name {
					t.Errorf("query %d (ID %d) got ID %d, %s, want %s:\n%v", i, i, res.r.Id, got, want, res.r)
				}
			}
			// The pooled sockets stay open for the next queries; the
			// one-offs, on the ports past them, are closed.
			open := socks(u)
			if len(open) > u.pool.maxPooled {
				t.Errorf("%d sockets open after the queries, want at most %d (one-offs closed)", len(open), u.pool.maxPooled)
			}
			if tc.sockets > 0 {
				want := min(tc.pooled, (tc.n+tc.perSock-1)/tc.perSock)
				if len(open) != want {
					t.Errorf("%d sockets open after the queries, want the %d pooled ones", len(open), want)
				}
				for _, s := range open {
					if s.age == nil {
						t.Error("a socket left open has no age timer: it would never be retired")
					}
				}
				if oneOffs := max(0, tc.n-tc.pooled*tc.perSock); len(ids) != want+oneOffs {
					t.Errorf("queries came from %d ports, want %d pooled and %d one-offs", len(ids), want, oneOffs)
				}
			}
		})
	}
}

// TestUDPSpoofIgnored: datagrams that are not the answer arrive first and
// are ignored; the real answer is taken.
func TestUDPSpoofIgnored(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		spoof   func(q heldQuery) []byte
		ignored bool // dropped by the reader, not handed to the query
	}{
		{"wrong ID", spoofed(func(m *dns.Msg) { m.Id++ }), true},
		{"wrong name", spoofed(func(m *dns.Msg) { m.Question[0].Name = "spoofed.invalid." }), true},
		{"one letter off", spoofed(func(m *dns.Msg) { m.Question[0].Name = "examplf.com." }), true},
		{"wrong type", spoofed(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeAAAA }), true},
		{"wrong class", spoofed(func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }), true},
		{"no question", spoofed(func(m *dns.Msg) { m.Question = nil }), true},
		{"too short", func(q heldQuery) []byte { return []byte{byte(q.msg.Id >> 8), byte(q.msg.Id)} }, true},
		{"not a response", spoofed(func(m *dns.Msg) { m.Response = false }), false},
		{"does not unpack", func(q heldQuery) []byte {
			wire, _ := answer(q, "6.6.6.6").Pack()
			return wire[:len(wire)-3] // right header and question, cut-off record
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHeldUpstream(t, "127.0.0.1:0")
			u := newTestUDP(t, h.addr(), nil)
			c := exchangeAsync(context.Background(), u, query("example.com.", dns.TypeA))
			q := h.next()
			h.sendRaw(q, tc.spoof(q))
			h.send(q, answer(q, "192.0.2.1"))
			res := <-c
			if res.err != nil || firstA(res.r) != "192.0.2.1" {
				t.Fatalf("answer %v, error %v; want the real one", res.r, res.err)
			}
			s := socks(u)[0]
			s.mu.Lock()
			ignored := s.ignored
			s.mu.Unlock()
			if want := map[bool]uint64{true: 1, false: 0}[tc.ignored]; ignored != want {
				t.Errorf("reader ignored %d datagrams, want %d", ignored, want)
			}
		})
	}
}

// spoofed returns a spoof maker: the answer to the query with a bad A
// record, changed by f.
func spoofed(f func(*dns.Msg)) func(heldQuery) []byte {
	return func(q heldQuery) []byte {
		m := answer(q, "6.6.6.6")
		f(m)
		wire, err := m.Pack()
		if err != nil {
			panic(err)
		}
		return wire
	}
}

// TestUDPSocketRetirement: a socket is retired after maxQueries queries,
// and the next query goes out from a new socket and port.
func TestUDPSocketRetirement(t *testing.T) {
	t.Parallel()
	const perSocket, sockets = 3, 3
	h := newHeldUpstream(t, "127.0.0.1:0")
	u := newTestUDP(t, h.addr(), func(p *udpPool) { p.maxQueries = perSocket })
	var ports []int
	var last []heldQuery
	var lastRes []<-chan result
	for i := range perSocket * sockets {
		c := exchangeAsync(context.Background(), u, query("example.com.", dns.TypeA))
		q := h.next()
		ports = append(ports, q.from.Port)
		if i%perSocket == perSocket-1 {
			// Each socket's last query is answered at the end, so that all
			// sockets are open at once and the kernel cannot hand the same
			// port out twice.
			last, lastRes = append(last, q), append(lastRes, c)
			continue
		}
		h.send(q, answer(q, "192.0.2.1"))
		if res := <-c; res.err != nil {
			t.Fatal(res.err)
		}
	}
	if n := len(socks(u)); n != sockets {
		t.Errorf("%d sockets open, want %d (retired, each with a query in flight)", n, sockets)
	}
	for i, q := range last {
		h.send(q, answer(q, "192.0.2.1"))
		if res := <-lastRes[i]; res.err != nil {
			t.Fatal(res.err)
		}
	}
	seen := make(map[int]bool)
	for i := 0; i < len(ports); i += perSocket {
		for _, p := range ports[i : i+perSocket] {
			if p != ports[i] {
				t.Fatalf("source ports %v: want %d queries per port", ports, perSocket)
			}
		}
		if seen[ports[i]] {
			t.Fatalf("source ports %v: a retired port came back", ports)
		}
		seen[ports[i]] = true
	}
	if n := len(socks(u)); n != 0 {
		t.Errorf("%d sockets open after the retired ones' last queries, want 0", n)
	}
}

// TestUDPSocketAge: a socket's age timer retires it: closed at once when
// idle, after its last query otherwise. One-offs have no timer.
func TestUDPSocketAge(t *testing.T) {
	t.Parallel()
	h := newHeldUpstream(t, "127.0.0.1:0")
	u := newTestUDP(t, h.addr(), func(p *udpPool) { p.maxSockets, p.spread, p.maxInflight, p.maxPooled = 1, 1, 1, 1 })
	c1 := exchangeAsync(context.Background(), u, query("example.com.", dns.TypeA))
	q1 := h.next()
	c2 := exchangeAsync(context.Background(), u, query("example.com.", dns.TypeA))
	q2 := h.next()
	if q1.from.Port == q2.from.Port {
		t.Fatal("second query shares the full socket")
	}
	open := socks(u)
	var pooled *udpSock
	oneOffs := 0
	for _, s := range open {
		if s.age != nil {
			pooled = s
		} else {
			oneOffs++
		}
	}
	if len(open) != 2 || pooled == nil || oneOffs != 1 {
		t.Fatalf("%d sockets, %d without age timer; want one pooled with a timer and one one-off", len(open), oneOffs)
	}
	u.pool.retire(pooled) // as its timer does
	if n := len(socks(u)); n != 2 {
		t.Errorf("%d sockets open, want 2: the retired one is busy", n)
	}
	h.send(q1, answer(q1, "192.0.2.1"))
	h.send(q2, answer(q2, "192.0.2.1"))
	for _, c := range []<-chan result{c1, c2} {
		if res := <-c; res.err != nil {
			t.Fatal(res.err)
		}
	}
	if n := len(socks(u)); n != 0 {
		t.Errorf("%d sockets open, want 0: retired and one-off closed after their query", n)
	}
}

// TestUDPCloseWakesWaiters: Close fails the queries in flight at once; the
// upstream then opens a fresh socket for the next.
func TestUDPCloseWakesWaiters(t *testing.T) {
	t.Parallel()
	const n = 5
	h := newHeldUpstream(t, "127.0.0.1:0")
	u := newTestUDP(t, h.addr(), nil)
	var cs []<-chan result
	for range n {
		cs = append(cs, exchangeAsync(context.Background(), u, query("example.com.", dns.TypeA)))
	}
	for range n {
		h.next()
	}
	u.Close()
	for _, c := range cs {
		res := <-c
		if !errors.Is(res.err, errUDPClosed) || !strings.HasPrefix(res.err.Error(), u.name+": ") {
			t.Errorf("error %v, want %q naming the upstream", res.err, errUDPClosed)
		}
	}
	if n := len(socks(u)); n != 0 {
		t.Errorf("%d sockets open after Close", n)
	}
	c := exchangeAsync(context.Background(), u, query("example.com.", dns.TypeA))
	q := h.next()
	h.send(q, answer(q, "192.0.2.1"))
	if res := <-c; res.err != nil {
		t.Errorf("after Close: %v", res.err)
	}
}

// TestUDPContextEnds: a query whose context ends leaves at once, its ID
// freed; the other query on the socket is not disturbed, and the late
// answer to the first is ignored.
func TestUDPContextEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancel", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, context.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			// Long enough for the query to be sent first: with 1 ms, a
			// loaded machine once ran the exchange after the deadline,
			// which then rightly sent nothing, and the test waited in
			// vain for the query.
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHeldUpstream(t, "127.0.0.1:0")
			u := newTestUDP(t, h.addr(), func(p *udpPool) { p.maxSockets, p.spread = 1, 100 })
			ctx, cancel := tc.ctx()
			defer cancel()
			c1 := exchangeAsync(ctx, u, query("example.com.", dns.TypeA))
			q1 := h.next()
			c2 := exchangeAsync(context.Background(), u, query("example.com.", dns.TypeA))
			q2 := h.next()
			if tc.want == context.Canceled {
				cancel()
			}
			if res := <-c1; !errors.Is(res.err, tc.want) {
				t.Fatalf("error %v, want %v", res.err, tc.want)
			}
			h.send(q1, answer(q1, "6.6.6.6")) // too late
			h.send(q2, answer(q2, "192.0.2.1"))
			if res := <-c2; res.err != nil || firstA(res.r) != "192.0.2.1" {
				t.Fatalf("other query: answer %v, error %v", res.r, res.err)
			}
			s := socks(u)[0]
			s.mu.Lock()
			defer s.mu.Unlock()
			if len(s.pending) != 0 || s.ignored != 1 {
				t.Errorf("%d queries pending, %d datagrams ignored; want 0 and 1", len(s.pending), s.ignored)
			}
		})
	}
}

// TestUDPSocketError: an ICMP port unreachable (ECONNREFUSED on a connected
// socket) fails every query on the socket at once rather than at its
// timeout, and the socket is replaced.
func TestUDPSocketError(t *testing.T) {
	t.Parallel()
	for _, waiting := range []int{0, 3} {
		t.Run(fmt.Sprintf("%d waiting", waiting), func(t *testing.T) {
			t.Parallel()
			// A loopback address of its own: the upstream comes back on the
			// same port, which on 127.0.0.1 a parallel test's client socket
			// may take meanwhile.
			h := newHeldUpstream(t, "127.0.0.79:0")
			addr := h.addr()
			u := newTestUDP(t, addr, func(p *udpPool) { p.maxSockets, p.spread = 1, 100 })
			var cs []<-chan result
			for range waiting {
				cs = append(cs, exchangeAsync(context.Background(), u, query("example.com.", dns.TypeA)))
				h.next()
			}
			h.close()
			// Timeout is a minute: only the ICMP error ends these.
			_, err := u.Exchange(context.Background(), query("example.com.", dns.TypeA))
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("error %v, want connection refused", err)
			}
			for _, c := range cs {
				if res := <-c; !errors.Is(res.err, syscall.ECONNREFUSED) {
					t.Errorf("waiting query: error %v, want connection refused", res.err)
				}
			}
			if n := len(socks(u)); n != 0 {
				t.Fatalf("%d sockets open after the error, want 0", n)
			}
			h = newHeldUpstream(t, addr) // the upstream is back
			c := exchangeAsync(context.Background(), u, query("example.com.", dns.TypeA))
			q := h.next()
			h.send(q, answer(q, "192.0.2.1"))
			if res := <-c; res.err != nil {
				t.Fatalf("after the error: %v", res.err)
			}
		})
	}
}

// TestUDPNameAddr: an Addr given as a name is looked up when a socket is
// opened.
func TestUDPNameAddr(t *testing.T) {
	t.Parallel()
	h := newHeldUpstream(t, "127.0.0.1:0")
	port := netip.MustParseAddrPort(h.addr()).Port()
	u := newTestUDP(t, fmt.Sprintf("localhost:%d", port), nil)
	if u.pool.raddr != nil {
		t.Fatal("a name taken for an address")
	}
	c := exchangeAsync(context.Background(), u, query("example.com.", dns.TypeA))
	var q heldQuery
	select {
	case q = <-h.arrived:
	case res := <-c:
		t.Skipf("localhost is not 127.0.0.1 here: %v", res.err)
	}
	h.send(q, answer(q, "192.0.2.1"))
	if res := <-c; res.err != nil {
		t.Fatal(res.err)
	}
}

// TestUDPMixedLoad runs many queries at once on the pool against an
// upstream that answers some, late or after a spoof, drops some and answers
// others for another name, while some callers give up: every query gets its
// own answer or an error, never another's, and nothing is left pending.
func TestUDPMixedLoad(t *testing.T) {
	t.Parallel()
	const n = 200
	zone := make([]string, 0, n)
	for i := range n {
		zone = append(zone, fmt.Sprintf("q%d.example. 60 IN A 10.0.%d.%d", i, i>>8, i&255))
	}
	answer := dnstest.ZoneHandler(zone...)
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		var i int
		fmt.Sscanf(r.Question[0].Name, "q%d.", &i)
		switch i % 5 {
		case 0:
			answer.ServeDNS(w, r)
		case 1: // dropped
		case 2:
			dnstest.DelayHandler(time.Millisecond, answer).ServeDNS(w, r)
		case 3:
			dnstest.WrongIDHandler(answer).ServeDNS(w, r)
			answer.ServeDNS(w, r)
		case 4:
			dnstest.WrongQuestionHandler(answer).ServeDNS(w, r)
		}
	})
	f := dnstest.NewUpstream(t, h)
	u := newUDP("udp://"+f.Addr(), Options{Proto: "udp", Addr: f.Addr(), Timeout: 200 * time.Millisecond})
	t.Cleanup(func() { u.Close() })

	type outcome struct {
		i   int
		r   *dns.Msg
		err error
	}
	out := make(chan outcome, n)
	for i := range n {
		go func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if i%7 == 0 {
				go cancel() // gives up at some point, or not
			}
			m := query(fmt.Sprintf("q%d.example.", i), dns.TypeA)
			r, err := u.Exchange(ctx, m)
			out <- outcome{i, r, err}
		}()
	}
	for range n {
		o := <-out
		switch {
		case o.err == nil:
			want := fmt.Sprintf("10.0.%d.%d", o.i>>8, o.i&255)
			if got := firstA(o.r); got != want || o.i%5 == 1 || o.i%5 == 4 {
				t.Errorf("query %d: answer %s, want %s, or none for a dropped or spoofed one", o.i, got, want)
			}
		case errors.Is(o.err, context.Canceled):
			if o.i%7 != 0 {
				t.Errorf("query %d: %v, but it was not cancelled", o.i, o.err)
			}
		case !errors.Is(o.err, context.DeadlineExceeded) || o.i%5 != 1 && o.i%5 != 4:
			t.Errorf("query %d: %v", o.i, o.err)
		}
	}
	for _, s := range socks(u) {
		s.mu.Lock()
		if len(s.pending) != 0 {
			t.Errorf("%d queries still pending on a socket", len(s.pending))
		}
		s.mu.Unlock()
	}
}
