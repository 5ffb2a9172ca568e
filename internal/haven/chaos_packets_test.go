package haven_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

// Hostile packets that TestMalformedPackets does not send: EDNS abuse,
// unusual classes and names, a compression pointer out of the message. Each
// gets its expected answer (or, for what is not a query, none), and Haven
// still answers a good query after all of them.

// packetPack packs m, failing the test if it cannot.
func packetPack(t *testing.T, m *dns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// maxName returns a name whose wire form is exactly n octets (n ≤ 255).
func maxName(n int) string {
	var labels []string
	left := n - 1 // the root label's zero byte
	for left > 0 {
		l := min(63, left-1)
		labels = append(labels, strings.Repeat("a", l))
		left -= l + 1
	}
	return strings.Join(labels, ".") + "."
}

// hostilePackets returns the cases, built around a good query for
// example.com; rcode -1 means the packet must get no answer.
func hostilePackets(t *testing.T) []struct {
	name  string
	pkt   []byte
	rcode int
} {
	good := func() *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("example.com.", dns.TypeA)
		return m
	}

	hugeEDNS := good()
	hugeEDNS.SetEdns0(65535, true)
	// 80 unknown options fit the 1232 bytes Haven reads over UDP; 200 do
	// not, and a UDP query cut short by the read is a FORMERR there.
	manyOpts := func(n int) *dns.Msg {
		m := good()
		m.SetEdns0(65535, false)
		for i := range n {
			m.IsEdns0().Option = append(m.IsEdns0().Option,
				&dns.EDNS0_LOCAL{Code: uint16(65001 + i), Data: []byte{byte(i), 1, 2, 3, 4, 5, 6, 7}})
		}
		return m
	}

	// An OPT whose RDLENGTH claims 50 bytes where 4 follow.
	optLong := good()
	optLong.SetEdns0(1232, false)
	optLong.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: 65001, Data: nil}}
	badOptLen := packetPack(t, optLong)
	binary.BigEndian.PutUint16(badOptLen[len(badOptLen)-6:], 50)
	// An OPT option whose length runs past the OPT's RDLENGTH.
	optInner := packetPack(t, optLong)
	binary.BigEndian.PutUint16(optInner[len(optInner)-2:], 200)

	chaos := new(dns.Msg)
	chaos.SetQuestion("version.bind.", dns.TypeTXT)
	chaos.Question[0].Qclass = dns.ClassCHAOS

	root := new(dns.Msg)
	root.SetQuestion(".", dns.TypeA)
	rootNS := new(dns.Msg)
	rootNS.SetQuestion(".", dns.TypeNS)

	longest := new(dns.Msg)
	longest.SetQuestion(maxName(255), dns.TypeA)
	// One octet over: the name's labels are rewritten by hand, since Pack
	// refuses it.
	tooLong := packetPack(t, longest)
	tooLong = append(tooLong[:12], append([]byte{1, 'b'}, tooLong[12:]...)...)

	// A question name that is a compression pointer past the end.
	beyond := append(packetPack(t, good())[:12], 0xC0, 0xFF, 0, 1, 0, 1)
	// A pointer just past the end of this very message.
	justBeyond := append(packetPack(t, good())[:12], 0xC0, 18, 0, 1, 0, 1)
	// A pointer forward into the question's own type field, whose zero
	// byte reads as the root name: odd, but a valid query for ".".
	forward := append(packetPack(t, good())[:12], 0xC0, 14, 0, 1, 0, 1)

	// A header promising one question, and nothing after it: miekg/dns
	// parses it into a message with no question at all.
	headerOnly := packetPack(t, good())[:12]

	return []struct {
		name  string
		pkt   []byte
		rcode int
	}{
		{"header only, QDCOUNT 1", headerOnly, dns.RcodeFormatError},
		{"EDNS size 65535", packetPack(t, hugeEDNS), dns.RcodeSuccess},
		{"80 unknown EDNS options", packetPack(t, manyOpts(80)), dns.RcodeSuccess},
		{"200 unknown EDNS options", packetPack(t, manyOpts(200)), -2},
		{"OPT RDLENGTH past the end", badOptLen, dns.RcodeFormatError},
		{"EDNS option length past the OPT", optInner, dns.RcodeFormatError},
		{"CHAOS TXT version.bind", packetPack(t, chaos), -2},
		{"root A", packetPack(t, root), -2},
		{"root NS", packetPack(t, rootNS), -2},
		{"255-octet name", packetPack(t, longest), dns.RcodeNameError},
		{"256-octet name", tooLong, dns.RcodeFormatError},
		{"pointer far past the end", beyond, dns.RcodeFormatError},
		{"pointer just past the end", justBeyond, dns.RcodeFormatError},
		{"pointer forward", forward, -2},
	}
}

// TestHostilePackets sends each case over UDP and TCP. rcode -2 means any
// answer will do as long as there is one (a CHAOS or root query may be
// forwarded or refused), but one must come.
func TestHostilePackets(t *testing.T) {
	t.Parallel()
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	h := start(t, fmt.Sprintf("upstreams: [\"udp://%s\"]\nupstream: {timeout: 1s}\nlists: {}\nblock: []\n", up.Addr()), haven.Options{})
	for _, tc := range hostilePackets(t) {
		for _, netw := range []string{"udp", "tcp"} {
			t.Run(netw+"/"+tc.name, func(t *testing.T) {
				r, raw := rawExchange(t, netw, h.Addr(), tc.pkt)
				switch {
				case tc.rcode == -1:
					if raw != nil {
						t.Errorf("got an answer %x, want none", raw)
					}
					return
				case raw == nil:
					t.Fatalf("no answer")
				case len(raw) < 12:
					t.Fatalf("answer %x shorter than a header", raw)
				}
				if id := binary.BigEndian.Uint16(raw); id != binary.BigEndian.Uint16(tc.pkt) {
					t.Errorf("answer ID %d, query ID %d", id, binary.BigEndian.Uint16(tc.pkt))
				}
				rcode := int(raw[3] & 0xF)
				if r != nil {
					rcode = r.Rcode
				}
				t.Logf("rcode %s, %d bytes", dns.RcodeToString[rcode], len(raw))
				if tc.rcode >= 0 && rcode != tc.rcode {
					t.Errorf("rcode %s, want %s", dns.RcodeToString[rcode], dns.RcodeToString[tc.rcode])
				}
				if r != nil && rcode == dns.RcodeSuccess && netw == "udp" && len(raw) > 1232 {
					t.Errorf("UDP answer of %d bytes, over Haven's 1232", len(raw))
				}
				if r != nil {
					if o := r.IsEdns0(); o != nil && o.UDPSize() > 1232 {
						t.Errorf("OPT advertises %d, want at most 1232", o.UDPSize())
					}
				}
			})
		}
	}
	answerIs(t, ask(t, "udp", h.Addr(), "example.com.", dns.TypeA, false), "192.0.2.1")
	answerIs(t, ask(t, "tcp", h.Addr(), "example.com.", dns.TypeA, false), "192.0.2.1")
}

// rawExchange sends pkt over netw and returns the answer, parsed if it
// parses, and its bytes; nil, nil if none came within a second.
func rawExchange(t *testing.T, netw, addr string, pkt []byte) (*dns.Msg, []byte) {
	t.Helper()
	c, err := net.Dial(netw, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if netw == "tcp" {
		pkt = append(binary.BigEndian.AppendUint16(nil, uint16(len(pkt))), pkt...)
	}
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65537)
	var raw []byte
	if netw == "tcp" {
		var hdr [2]byte
		if _, err := readFull(c, hdr[:]); err != nil {
			return nil, nil
		}
		raw = buf[:binary.BigEndian.Uint16(hdr[:])]
		if _, err := readFull(c, raw); err != nil {
			t.Fatalf("answer cut short: %v", err)
		}
	} else {
		n, err := c.Read(buf)
		if err != nil {
			return nil, nil
		}
		raw = buf[:n]
	}
	m := new(dns.Msg)
	if m.Unpack(raw) != nil {
		m = nil
	}
	return m, raw
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := c.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestNoGoroutineLeak floods Haven with garbage over UDP and TCP and checks
// that every goroutine serving it ends: none is stuck on a packet it could
// not parse or a connection the client dropped. It does not run in
// parallel, so that the count is Haven's own.
func TestNoGoroutineLeak(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	h := start(t, fmt.Sprintf("upstreams: [\"udp://%s\"]\nupstream: {timeout: 1s}\nlists: {}\nblock: []\n", up.Addr()), haven.Options{})
	answerIs(t, ask(t, "udp", h.Addr(), "example.com.", dns.TypeA, false), "192.0.2.1")
	answerIs(t, ask(t, "tcp", h.Addr(), "example.com.", dns.TypeA, false), "192.0.2.1")
	before := settledGoroutines(0)

	rng := rand.New(rand.NewPCG(1, 2))
	conn, err := net.Dial("udp", h.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	good := packetPack(t, dnstest.Query("example.com.", dns.TypeA))
	for i := range 2000 {
		var p []byte
		switch i % 4 {
		case 0: // pure noise
			p = make([]byte, 1+rng.IntN(600))
			for j := range p {
				p[j] = byte(rng.Uint32())
			}
		case 1: // a good header, then noise
			p = append([]byte(nil), good[:12]...)
			for range rng.IntN(100) {
				p = append(p, byte(rng.Uint32()))
			}
		default: // a good query with bytes flipped
			p = append([]byte(nil), good...)
			for range 1 + rng.IntN(4) {
				p[rng.IntN(len(p))] ^= byte(1 + rng.IntN(255))
			}
		}
		conn.Write(p)
		if i%100 == 0 {
			time.Sleep(time.Millisecond) // let the socket buffer drain
		}
	}
	// TCP clients that send garbage or half a message and hang up.
	for i := range 50 {
		c, err := net.Dial("tcp", h.Addr())
		if err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 0:
			c.Write([]byte{0, 40, 1, 2, 3})
		case 1:
			c.Write(append([]byte{0, byte(len(good))}, good[:len(good)-3]...))
		default:
			c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
		}
		c.Close()
	}
	// The kernel may have dropped a datagram or two while the socket
	// buffer was full; a client would ask again.
	alive := false
	c := &dns.Client{Timeout: time.Second}
	for range 3 {
		if r, _, err := c.Exchange(dnstest.Query("example.com.", dns.TypeA), h.Addr()); err == nil {
			answerIs(t, r, "192.0.2.1")
			alive = true
			break
		}
	}
	if !alive {
		t.Fatal("no answer over UDP after the flood")
	}
	// Each hung-up TCP client counts against the address's cap of 50
	// connections until the server has read its end; under -race that can
	// take a moment, and a client over the cap is closed at once.
	for i := 0; ; i++ {
		r, err := exchangeFrom("", "tcp", h.Addr(), dnstest.Query("example.com.", dns.TypeA))
		if err == nil {
			answerIs(t, r, "192.0.2.1")
			break
		}
		if i == 20 {
			t.Fatalf("no answer over TCP after the flood: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The batched UDP server keeps up to 4 idle workers per CPU for a
	// while after a burst (server README, Batched UDP).
	slack := 10 + 4*runtime.GOMAXPROCS(0)
	after := settledGoroutines(before + slack)
	if after > before+slack {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Errorf("%d goroutines before the flood, %d after it settled:\n%s", before, after, buf[:n])
	}
}

// settledGoroutines waits up to 3s for the goroutine count to drop to at
// most target (to stop changing, for target 0) and returns it.
func settledGoroutines(target int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		m := runtime.NumGoroutine()
		if (target > 0 && m <= target) || (target == 0 && m == n) {
			return m
		}
		n = m
	}
	return n
}
