package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/havendns/haven/server/access"
	"github.com/miekg/dns"
)

// udpModes are the two UDP paths, which must answer alike.
var udpModes = []struct {
	name  string
	batch bool
}{{"miekg", false}, {"batch", true}}

// bigChain answers big.test. with 100 A records and defers the rest to
// the table chain.
func bigChain(tb testing.TB) resolver.Resolver {
	table := newTableChain(tb)
	return resolver.Func(func(ctx context.Context, q *resolver.Query) (*dns.Msg, error) {
		if q.Name() != "big.test." {
			return table.Resolve(ctx, q)
		}
		m := new(dns.Msg)
		m.SetReply(q.Msg)
		for i := range 100 {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: "big.test.", Rrtype: dns.TypeA,
				Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, byte(i))})
		}
		return m, nil
	})
}

// exchangeRaw sends pkt, then a good query with probeID, from one socket
// and returns the reply to pkt, if it gets one, and the good query's
// answer. A packet gets a reply when it has a header and is not a
// response; any other datagram is an error.
func exchangeRaw(tb testing.TB, addr string, pkt []byte, probeID uint16) (reply, probe []byte) {
	tb.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	if len(pkt) > 0 {
		if _, err := c.Write(pkt); err != nil {
			tb.Fatal(err)
		}
	}
	wantReply := len(pkt) >= headerLen && pkt[2]&0x80 == 0
	good := query("example.com.", dns.TypeA)
	good.Id = probeID
	gw, _ := good.Pack()
	if _, err := c.Write(gw); err != nil {
		tb.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(clientDeadline))
	buf := make([]byte, 65536)
	for probe == nil || (wantReply && reply == nil) {
		n, err := c.Read(buf)
		if err != nil {
			tb.Fatalf("reply %v, probe answer %v: %v", reply != nil, probe != nil, err)
		}
		got := append([]byte(nil), buf[:n]...)
		switch {
		case n >= 2 && binary.BigEndian.Uint16(got) == probeID && probe == nil:
			probe = got
		case wantReply && reply == nil:
			reply = got
		default:
			tb.Fatalf("unexpected datagram %x", got)
		}
	}
	return reply, probe
}

// udpPackets are the packets both UDP paths get: the fuzz seeds (the
// malformed packets of the robustness tests, internal/haven) and a few
// that test truncation and EDNS.
func udpPackets(tb testing.TB) map[string][]byte {
	tb.Helper()
	pkts := map[string][]byte{}
	dir := filepath.Join("testdata", "fuzz", "FuzzServe")
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[1], "[]byte(") {
			tb.Fatalf("%s: not a []byte seed", e.Name())
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			tb.Fatalf("%s: %v", e.Name(), err)
		}
		pkts["seed "+e.Name()] = []byte(s)
	}
	add := func(name string, m *dns.Msg) {
		w, err := m.Pack()
		if err != nil {
			tb.Fatal(err)
		}
		pkts[name] = w
	}
	m := query("BiG.TeSt.", dns.TypeA)
	m.Id = 7
	add("big, no EDNS", m)
	for _, size := range []uint16{600, 4096} {
		m := query("big.test.", dns.TypeA)
		m.Id = 8
		m.SetEdns0(size, true)
		add(fmt.Sprintf("big, EDNS %d", size), m)
	}
	m = query("ExAmPlE.cOm.", dns.TypeA)
	m.Id = 9
	m.SetEdns0(1232, true)
	add("mixed case, DO", m)
	return pkts
}

// TestUDPModesAgree sends every packet to a server on each UDP path and
// checks that the answers are the same, byte for byte, and right.
func TestUDPModesAgree(t *testing.T) {
	t.Parallel()
	addrs := map[bool]string{}
	for _, mode := range udpModes {
		s := startTLS(t, Options{Listen: []string{"127.0.0.1:0"}, Resolver: bigChain(t), BatchUDP: mode.batch}, nil)
		addrs[mode.batch] = s.Addrs()[0].String()
	}
	for name, pkt := range udpPackets(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const probeID = 0xbeef
			plain, _ := exchangeRaw(t, addrs[false], pkt, probeID)
			reply, probe := exchangeRaw(t, addrs[true], pkt, probeID)
			if !bytes.Equal(plain, reply) {
				t.Errorf("replies differ\nmiekg: %x\nbatch: %x", plain, reply)
			}
			var r dns.Msg
			if err := r.Unpack(probe); err != nil {
				t.Fatalf("probe answer: %v", err)
			}
			checkA(t, &r, "192.0.2.1", "192.0.2.2")
			if reply == nil {
				return
			}
			var m dns.Msg
			if err := m.Unpack(reply); err != nil {
				// Header-only rejections of bad packets still unpack.
				t.Fatalf("reply does not unpack: %v", err)
			}
			if len(pkt) >= 2 && m.Id != binary.BigEndian.Uint16(pkt) {
				t.Errorf("reply ID %d, want the query's", m.Id)
			}
			if strings.HasPrefix(name, "big") {
				limit := 512
				if o := m.IsEdns0(); o != nil {
					limit = min(int(o.UDPSize()), 1232)
					if name == "big, EDNS 600" {
						limit = 600
					}
				}
				if !m.Truncated || len(reply) > limit || len(m.Answer) == 0 {
					t.Errorf("big answer: TC %v, %d bytes, %d records; want TC, at most %d bytes", m.Truncated, len(reply), len(m.Answer), limit)
				}
				if m.Question[0].Name != "BiG.TeSt." && m.Question[0].Name != "big.test." {
					t.Errorf("question %q", m.Question[0].Name)
				}
			}
			if name == "mixed case, DO" {
				if m.Question[0].Name != "ExAmPlE.cOm." {
					t.Errorf("question %q, want the case asked", m.Question[0].Name)
				}
				if o := m.IsEdns0(); o == nil || !o.Do() || o.UDPSize() != 1232 {
					t.Errorf("OPT %v, want DO and 1232", o)
				}
			}
		})
	}
}

// fakeGuard refuses 127.0.0.2 and drops 127.0.0.3.
type fakeGuard struct{}

func (fakeGuard) Check(a netip.Addr) (access.Action, access.Reason) {
	switch a {
	case netip.MustParseAddr("127.0.0.2"):
		return access.Refuse, access.NotAllowed
	case netip.MustParseAddr("127.0.0.3"):
		return access.Drop, access.Denied
	}
	return access.Serve, access.Allowed
}

func TestUDPGuard(t *testing.T) {
	t.Parallel()
	for _, mode := range udpModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var reasons []string
			var observed atomic.Int64
			s := startTLS(t, Options{Listen: []string{"127.0.0.1:0"}, BatchUDP: mode.batch, Guard: fakeGuard{},
				Refused: func(r string) { mu.Lock(); reasons = append(reasons, r); mu.Unlock() },
				Observe: func(*resolver.Query, int, time.Duration) { observed.Add(1) }}, nil)
			if got := s.askFrom(t, "127.0.0.2", "example.com."); got != dns.RcodeRefused {
				t.Errorf("refused client: %s", dns.RcodeToString[got])
			}
			if got := s.askFrom(t, "127.0.0.1", "example.com."); got != dns.RcodeSuccess {
				t.Errorf("served client: %s", dns.RcodeToString[got])
			}
			// A dropped query gets nothing: the good query after it, from
			// another address, is answered and nothing else came.
			c := s.udpFrom(t, "127.0.0.3")
			if err := c.WriteMsg(query("example.com.", dns.TypeA)); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the dropped query seen by the guard", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(reasons) == 2
			})
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if r, err := c.ReadMsg(); err == nil {
				t.Errorf("dropped client got %v", r)
			}
			mu.Lock()
			defer mu.Unlock()
			if strings.Join(reasons, " ") != access.NotAllowed.String()+" "+access.Denied.String() {
				t.Errorf("refused reasons %q", reasons)
			}
			// Observe sees the REFUSED and the answer, not the drop.
			eventually(t, "two queries observed", func() bool { return observed.Load() == 2 })
		})
	}
}

// TestUDPSlowDoesNotBlock holds many slow queries in the chain while many
// clients ask fast ones: those are all answered, then the slow ones.
func TestUDPSlowDoesNotBlock(t *testing.T) {
	t.Parallel()
	for _, mode := range udpModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			s, chain, unblock := startBlocking(t, mode.batch)
			const slow = 100 // more than the workers of every socket
			sc := s.udpFrom(t, "127.0.0.1")
			for i := range slow {
				q := query("slow.test.", dns.TypeA)
				q.Id = uint16(i)
				if err := sc.WriteMsg(q); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, "slow queries in the chain", func() bool { return chain.count() == slow })
			const clients, each = 16, 50
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := s.udpFrom(t, "127.0.0.1")
					for i := range each {
						q := query("example.com.", dns.TypeA)
						q.Id = uint16(1000 + i)
						if err := c.WriteMsg(q); err != nil {
							errs <- err
							return
						}
						r, err := c.ReadMsg()
						if err != nil {
							errs <- fmt.Errorf("fast query %d: %w", i, err)
							return
						}
						if r.Id != q.Id || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
							errs <- fmt.Errorf("fast query %d: ID %d %s", i, r.Id, dns.RcodeToString[r.Rcode])
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			unblock()
			got := map[uint16]bool{}
			for range slow {
				r, err := sc.ReadMsg()
				if err != nil {
					t.Fatalf("slow answers: %v after %d", err, len(got))
				}
				checkA(t, r, "192.0.2.9")
				got[r.Id] = true
			}
			if len(got) != slow {
				t.Errorf("%d distinct slow answers, want %d", len(got), slow)
			}
		})
	}
}

// TestUDPBatchShutdown checks that shutdown lets an answer in flight be
// written, waits for it, and frees every socket of the port.
func TestUDPBatchShutdown(t *testing.T) {
	t.Parallel()
	if !batchSupported {
		t.Skip("batched UDP needs Linux")
	}
	chain := newTableChain(t)
	chain.block = make(chan struct{})
	// A loopback address of its own: the port is bound again at the end,
	// and on 127.0.0.1 a parallel test's client socket may take it first.
	s := New(Options{Listen: []string{"127.0.0.78:0"}, BatchUDP: true, Resolver: chain, Timeout: time.Minute})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if n := s.batch[0].sockets(); n != max(runtime.GOMAXPROCS(0)/2, 1) {
		t.Errorf("%d sockets, want one per two CPUs", n)
	}
	addr := s.Addrs()[0].String()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dc := &dns.Conn{Conn: c}
	if err := dc.WriteMsg(query("slow.test.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the slow query in the chain", func() bool { return chain.count() == 1 })
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), clientDeadline)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	close(chain.block)
	c.SetReadDeadline(time.Now().Add(clientDeadline))
	r, err := dc.ReadMsg()
	if err != nil {
		t.Fatalf("answer in flight at shutdown: %v", err)
	}
	checkA(t, r, "192.0.2.9")
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// Every SO_REUSEPORT socket is closed: a socket without the option
	// can take the port. Within a second: once in some 25 runs of the
	// package under -race the first try found the port still bound, and it
	// could not be caught again to say by what.
	var pc net.PacketConn
	for end := time.Now().Add(time.Second); ; time.Sleep(10 * time.Millisecond) {
		if pc, err = net.ListenPacket("udp", addr); err == nil {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("port still held a second after shutdown: %v", err)
		}
	}
	pc.Close()
}

// TestUDPSlowInBatch sends a slow query and fast ones back to back from
// one socket, so that they likely share a batch: the fast ones are
// answered while the slow one waits.
func TestUDPSlowInBatch(t *testing.T) {
	t.Parallel()
	for _, mode := range udpModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			s, _, unblock := startBlocking(t, mode.batch)
			c := s.udpFrom(t, "127.0.0.1")
			const fast = 20
			for i := range fast + 1 {
				q := query("example.com.", dns.TypeA)
				if i == 0 {
					q = query("slow.test.", dns.TypeA)
				}
				q.Id = uint16(i)
				if err := c.WriteMsg(q); err != nil {
					t.Fatal(err)
				}
			}
			for range fast {
				r, err := c.ReadMsg()
				if err != nil {
					t.Fatalf("fast answers: %v", err)
				}
				if r.Id == 0 {
					t.Fatal("the slow query was answered before it was let go")
				}
				checkA(t, r, "192.0.2.1", "192.0.2.2")
			}
			unblock()
			r, err := c.ReadMsg()
			if err != nil {
				t.Fatalf("slow answer: %v", err)
			}
			if r.Id != 0 {
				t.Errorf("ID %d, want the slow query's", r.Id)
			}
			checkA(t, r, "192.0.2.9")
		})
	}
}

// startBlocking serves UDP from a chain that holds slow.test queries until
// unblock is called (at the latest when the test ends).
func startBlocking(t *testing.T, batch bool) (s *testServer, chain *tableChain, unblock func()) {
	t.Helper()
	chain = newTableChain(t)
	chain.block = make(chan struct{})
	var once sync.Once
	unblock = func() { once.Do(func() { close(chain.block) }) }
	s = startTLS(t, Options{Listen: []string{"127.0.0.1:0"}, BatchUDP: batch, Resolver: chain,
		Timeout: time.Minute}, nil)
	t.Cleanup(unblock)
	return s, chain, unblock
}

// TestUDPReaders: Options.UDPReaders sets how many sockets serve a batched
// address, and each of them answers: twenty clients, spread over the
// sockets by the kernel, all get their answers. Zero means one per two
// CPUs.
func TestUDPReaders(t *testing.T) {
	t.Parallel()
	if !batchSupported {
		t.Skip("batched UDP needs Linux")
	}
	for _, tc := range []struct{ n, want int }{{0, max(runtime.GOMAXPROCS(0)/2, 1)}, {1, 1}, {3, 3}} {
		s := New(Options{Listen: []string{"127.0.0.1:0"}, BatchUDP: true, UDPReaders: tc.n, Resolver: newTableChain(t)})
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		if got := s.batch[0].sockets(); got != tc.want {
			t.Errorf("UDPReaders %d: %d sockets, want %d", tc.n, got, tc.want)
		}
		addr := s.Addrs()[0].String()
		for range 20 {
			c, err := net.Dial("udp", addr)
			if err != nil {
				t.Fatal(err)
			}
			r := exchangeConn(t, &dns.Conn{Conn: c}, query("example.com.", dns.TypeA))
			checkA(t, r, "192.0.2.1", "192.0.2.2")
			c.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), clientDeadline)
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		cancel()
	}
}
