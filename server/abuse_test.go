package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

// TestStreamConnectionCap: plain TCP has the connection caps of DoT and
// DoH, counted with them. A connection over a cap is closed at once; other
// clients, and later connections once one closes, are served.
func TestStreamConnectionCap(t *testing.T) {
	t.Parallel()
	type conn struct{ proto, from string }
	n := func(k int, c conn) []conn {
		out := make([]conn, k)
		for i := range out {
			out[i] = c
		}
		return out
	}
	tcp2, tcp3 := conn{"tcp", "127.0.0.2"}, conn{"tcp", "127.0.0.3"}
	dot2, dot3 := conn{"dot", "127.0.0.2"}, conn{"dot", "127.0.0.3"}
	tests := []struct {
		name     string
		opt      Options
		fill     []conn // opened and served first, in order
		over     []conn // then each closed by the server
		served   []conn // then each served
		reopened conn   // served once fill[0] has closed
	}{
		{
			name:     "per IP",
			opt:      Options{MaxConnsPerIP: 10},
			fill:     n(10, tcp2),
			over:     n(5, tcp2),
			served:   []conn{tcp3, dot3},
			reopened: tcp2,
		},
		{
			name:     "overall",
			opt:      Options{MaxConns: 10},
			fill:     append(n(6, tcp2), n(4, tcp3)...),
			over:     []conn{tcp2, tcp3, dot3, {"tcp", "127.0.0.4"}, tcp2},
			reopened: conn{"tcp", "127.0.0.4"},
		},
		{
			name:     "per IP over TCP and DoT together",
			opt:      Options{MaxConnsPerIP: 6},
			fill:     append(n(3, tcp2), n(3, dot2)...),
			over:     []conn{tcp2, dot2, tcp2, dot2},
			served:   []conn{tcp3, dot3},
			reopened: dot2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opt.Listen = []string{"127.0.0.1:0"}
			s := startTLS(t, tc.opt, nil)
			var open []*dns.Conn
			for i, cc := range tc.fill {
				c, err := s.dialProto(t, cc.proto, cc.from)
				if err == nil {
					err = served(c)
				}
				if err != nil {
					t.Fatalf("connection %d (%s from %s), under the caps: %v", i, cc.proto, cc.from, err)
				}
				open = append(open, c)
			}
			for i, cc := range tc.over {
				c, err := s.dialProto(t, cc.proto, cc.from)
				if err != nil {
					continue // the server closed it during the handshake
				}
				// The write may reach the server's kernel before the
				// close: the answer must still not come.
				_ = c.WriteMsg(query("example.com.", dns.TypeA))
				if err := closedByServer(c.Conn); err != nil {
					t.Errorf("connection %d over the cap (%s from %s): %v", i, cc.proto, cc.from, err)
				}
			}
			for _, cc := range tc.served {
				c, err := s.dialProto(t, cc.proto, cc.from)
				if err == nil {
					err = served(c)
				}
				if err != nil {
					t.Errorf("%s from %s, under its caps: %v", cc.proto, cc.from, err)
				}
			}
			// The connections under the caps are still served.
			for i, c := range open {
				if err := served(c); err != nil {
					t.Errorf("connection %d after the refusals: %v", i, err)
				}
			}
			// A place frees up once the server has seen a client leave.
			before := s.openConns()
			open[0].Close()
			eventually(t, "closed connection given back", func() bool { return s.openConns() < before })
			c, err := s.dialProto(t, tc.reopened.proto, tc.reopened.from)
			if err == nil {
				err = served(c)
			}
			if err != nil {
				t.Errorf("%s from %s after a close: %v", tc.reopened.proto, tc.reopened.from, err)
			}
		})
	}
}

// TestSlowLoris: clients that open connections and then send nothing, or
// a message a byte at a time, are cut off by the read and idle timeouts,
// on TCP, DoT and DoH, while UDP is answered throughout.
func TestSlowLoris(t *testing.T) {
	t.Parallel()
	// Once a client stalls, the server must cut it off within its
	// timeout; cutLimit leaves room for a loaded machine, and is short of
	// the default timeouts, so that a server ignoring the options fails.
	const timeout, cutLimit = time.Second, 4 * time.Second
	s := startTLS(t, Options{
		Listen:      []string{"127.0.0.1:0"},
		ReadTimeout: timeout, IdleTimeout: timeout,
		MaxConnsPerIP: 1000,
	}, nil)
	wire, err := query("example.com.", dns.TypeA).Pack()
	if err != nil {
		t.Fatal(err)
	}
	framed := append([]byte{byte(len(wire) >> 8), byte(len(wire))}, wire...)
	tlsTo := func(addr string, alpn ...string) func() (net.Conn, error) {
		return func() (net.Conn, error) {
			c, err := dialFrom("127.0.0.1", addr)
			if err != nil {
				return nil, err
			}
			tc := tls.Client(c, &tls.Config{RootCAs: s.roots, ServerName: "localhost", NextProtos: alpn})
			if err := tc.Handshake(); err != nil {
				c.Close()
				return nil, fmt.Errorf("tls handshake: %w", err)
			}
			return tc, nil
		}
	}
	tcpTo := func() (net.Conn, error) { return dialFrom("127.0.0.1", s.tcpAddr()) }
	rawDoT := func() (net.Conn, error) { return dialFrom("127.0.0.1", s.dotAddr()) }
	dot, h1 := tlsTo(s.dotAddr()), tlsTo(s.HTTPSAddrs()[0].String(), "http/1.1")
	tests := []struct {
		name  string
		n     int
		dial  func() (net.Conn, error)
		send  []byte // then nothing more
		reply bool   // whether send is a whole query, answered before the cut
		http  bool   // whether the server may answer an HTTP error first
	}{
		{"TCP, one byte of the length", 50, tcpTo, framed[:1], false, false},
		{"TCP, nothing", 10, tcpTo, nil, false, false},
		{"TCP, the length and part of the message", 10, tcpTo, framed[:len(framed)-3], false, false},
		{"TCP, a query then one byte", 10, tcpTo, append(framed[:len(framed):len(framed)], 0), true, false},
		{"DoT, handshake then nothing", 20, dot, nil, false, false},
		{"DoT, no handshake", 10, rawDoT, []byte{0x16, 0x03}, false, false},
		{"DoT, handshake then one byte", 10, dot, framed[:1], false, false},
		{"DoT, a query then part of one", 10, dot, append(framed[:len(framed):len(framed)], framed[:5]...), true, false},
		{"DoH over HTTP/1.1, handshake then nothing", 10, h1, nil, false, true},
		// net/http answers 400 to a request line cut short by its timeout.
		{"DoH over HTTP/1.1, handshake then part of a request", 10, h1, []byte("GET /dns-query?dns="), false, true},
	}

	// Meanwhile a UDP client asks again and again, and must get every
	// answer.
	stop := make(chan struct{})
	var asked, failed atomic.Int64
	var udpErr atomic.Value
	var udp sync.WaitGroup
	udp.Go(func() {
		cl := &dns.Client{Timeout: time.Second}
		for {
			select {
			case <-stop:
				return
			default:
			}
			asked.Add(1)
			r, _, err := cl.Exchange(query("example.com.", dns.TypeA), s.Addrs()[0].String())
			if err == nil && r.Rcode != dns.RcodeSuccess {
				err = fmt.Errorf("answer %s", dns.RcodeToString[r.Rcode])
			}
			if err != nil {
				failed.Add(1)
				udpErr.Store(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})

	var wg sync.WaitGroup
	total := 0
	for _, tc := range tests {
		total += tc.n
	}
	errs := make(chan error, total)
	for _, tc := range tests {
		for i := range tc.n {
			wg.Go(func() {
				c, err := tc.dial()
				if err != nil {
					errs <- fmt.Errorf("%s #%d: %w", tc.name, i, err)
					return
				}
				defer c.Close()
				if len(tc.send) > 0 {
					if _, err := c.Write(tc.send); err != nil {
						errs <- fmt.Errorf("%s #%d: write: %w", tc.name, i, err)
						return
					}
				}
				if tc.reply {
					if _, err := (&dns.Conn{Conn: c}).ReadMsg(); err != nil {
						errs <- fmt.Errorf("%s #%d: answer: %w", tc.name, i, err)
						return
					}
				}
				// From here on the client stalls.
				c.SetDeadline(time.Now().Add(cutLimit))
				closed := closedByServer
				if tc.http {
					closed = closedAfterHTTPError
				}
				if err := closed(c); err != nil {
					errs <- fmt.Errorf("%s #%d: %w", tc.name, i, err)
				}
			})
		}
	}
	wg.Wait()
	close(stop)
	udp.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if failed.Load() > 0 {
		t.Errorf("UDP: %d of %d queries failed during the attack, last: %v", failed.Load(), asked.Load(), udpErr.Load())
	}
	if asked.Load() == 0 {
		t.Error("UDP: no query asked during the attack")
	}
	eventually(t, "every connection given back", func() bool { return s.openConns() == 0 })
}

// TestStreamPipelining: queries written back to back on one connection
// all get their answers, each with its query's ID.
func TestStreamPipelining(t *testing.T) {
	t.Parallel()
	s := startTLS(t, Options{Listen: []string{"127.0.0.1:0"}}, nil)
	for _, proto := range []string{"tcp", "dot"} {
		t.Run(proto, func(t *testing.T) {
			c, err := s.dialProto(t, proto, "127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			const n = 100
			names := []string{"example.com.", "nothing.test.", "Example.COM."}
			want := map[uint16]string{}
			var batch []byte
			for i := range n {
				q := query(names[i%len(names)], dns.TypeA)
				q.Id = uint16(1000 + i)
				want[q.Id] = q.Question[0].Name
				wire, err := q.Pack()
				if err != nil {
					t.Fatal(err)
				}
				batch = append(batch, byte(len(wire)>>8), byte(len(wire)))
				batch = append(batch, wire...)
			}
			// One write: the queries arrive together.
			if _, err := c.Conn.Write(batch); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				r, err := c.ReadMsg()
				if err != nil {
					t.Fatalf("answer %d of %d: %v", i, n, err)
				}
				name, ok := want[r.Id]
				if !ok || len(r.Question) != 1 || r.Question[0].Name != name {
					t.Fatalf("answer %d: ID %d, question %v: not one asked, or answered twice", i, r.Id, r.Question)
				}
				delete(want, r.Id)
				wantRcode := dns.RcodeSuccess
				if name == "nothing.test." {
					wantRcode = dns.RcodeNameError
				}
				if r.Rcode != wantRcode {
					t.Errorf("%s: %s, want %s", name, dns.RcodeToString[r.Rcode], dns.RcodeToString[wantRcode])
				}
			}
		})
	}
}

// TestInFlightCap: a client pipelining slow queries past the in-flight cap
// gets REFUSED for the extra ones at once, on any transport, while another
// client is still served under the per-client cap; once the slow answers
// come, everything drains and every client is served again.
func TestInFlightCap(t *testing.T) {
	t.Parallel()
	const limit, extra = 20, 10
	tests := []struct {
		name        string
		opt         Options
		proto       string // of the flooding client
		otherServed bool   // whether another client is served while the cap is full
	}{
		{"per client, DoT", Options{MaxInFlightPerIP: limit}, "dot", true},
		{"per client, UDP", Options{MaxInFlightPerIP: limit}, "udp", true},
		{"overall, DoT", Options{MaxInFlight: limit}, "dot", false},
		{"overall, UDP", Options{MaxInFlight: limit}, "udp", false},
		{"per client, batched UDP", Options{MaxInFlightPerIP: limit, BatchUDP: true}, "udp", true},
		{"overall, batched UDP", Options{MaxInFlight: limit, BatchUDP: true}, "udp", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			table := newTableChain(t)
			release := make(chan struct{})
			var entered atomic.Int64
			tc.opt.Resolver = resolver.Func(func(ctx context.Context, q *resolver.Query) (*dns.Msg, error) {
				if q.Name() == "slow.test." {
					entered.Add(1)
					select {
					case <-release:
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}
				return table.Resolve(ctx, q)
			})
			tc.opt.Listen = []string{"127.0.0.1:0"}
			tc.opt.Timeout = time.Minute // the slow queries wait for release, not for this
			s := startTLS(t, tc.opt, nil)
			var once sync.Once
			unblock := func() { once.Do(func() { close(release) }) }
			t.Cleanup(unblock) // before the shutdown, which waits for answers

			var c *dns.Conn
			if tc.proto == "udp" {
				c = s.udpFrom(t, "127.0.0.2")
			} else {
				var err error
				if c, err = s.dialProto(t, tc.proto, "127.0.0.2"); err != nil {
					t.Fatal(err)
				}
			}
			asked := map[uint16]bool{}
			for i := range limit + extra {
				q := query("slow.test.", dns.TypeA)
				q.Id = uint16(2000 + i)
				asked[q.Id] = true
				if err := c.WriteMsg(q); err != nil {
					t.Fatal(err)
				}
			}
			// The slow queries hold every place: the extra ones are
			// answered now, while the chain still blocks.
			for i := range extra {
				r, err := c.ReadMsg()
				if err != nil {
					t.Fatalf("answer %d over the cap: %v", i, err)
				}
				if !asked[r.Id] || r.Rcode != dns.RcodeRefused {
					t.Fatalf("answer %d over the cap: ID %d %s, want REFUSED to a query asked", i, r.Id, dns.RcodeToString[r.Rcode])
				}
				delete(asked, r.Id)
			}
			eventually(t, "slow queries in the chain", func() bool { return entered.Load() == limit })

			// The cap counts a client over every transport.
			if got := s.askFrom(t, "127.0.0.2", "example.com."); got != dns.RcodeRefused {
				t.Errorf("flooding client over UDP: %s, want REFUSED", dns.RcodeToString[got])
			}
			want := dns.RcodeRefused
			if tc.otherServed {
				want = dns.RcodeSuccess
			}
			if got := s.askFrom(t, "127.0.0.3", "example.com."); got != want {
				t.Errorf("other client while the cap is full: %s, want %s", dns.RcodeToString[got], dns.RcodeToString[want])
			}

			unblock()
			for i := range limit {
				r, err := c.ReadMsg()
				if err != nil {
					t.Fatalf("slow answer %d: %v", i, err)
				}
				if !asked[r.Id] {
					t.Fatalf("slow answer %d: ID %d not asked, or answered twice", i, r.Id)
				}
				delete(asked, r.Id)
				checkA(t, r, "192.0.2.9")
			}
			if n := entered.Load(); n != limit {
				t.Errorf("%d slow queries reached the chain, want %d", n, limit)
			}
			client := netip.MustParseAddr("127.0.0.2")
			eventually(t, "in-flight counts back to zero", func() bool {
				total, fromIP := s.handler.inflight.counts(client)
				return total == 0 && fromIP == 0
			})
			for _, from := range []string{"127.0.0.2", "127.0.0.3"} {
				if got := s.askFrom(t, from, "example.com."); got != dns.RcodeSuccess {
					t.Errorf("%s after the drain: %s, want NOERROR", from, dns.RcodeToString[got])
				}
			}
		})
	}
}
