package server

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/havendns/haven/resolver"
	"github.com/miekg/dns"
)

// FuzzServe sends each input to a running server as a UDP datagram (and,
// for about one input in four, as a framed TCP message), each followed by a
// good query, and checks that whatever comes back first is a reply to the
// input, and that the good query is answered: the server is alive. Seeds are in testdata/fuzz/FuzzServe: a good
// query and the malformed packets of the robustness tests.
//
//	go test -run '^$' -fuzz FuzzServe -fuzztime 60s ./server/
func FuzzServe(f *testing.F) {
	// Batched UDP with the fast path, as Haven runs by default: every
	// input that is a plain query is answered twice, the second time by
	// replay.
	s := New(Options{
		Listen:   []string{"127.0.0.1:0"},
		Resolver: fuzzChain(),
		Timeout:  time.Second,
		BatchUDP: true,
		Subject:  func(netip.Addr) (string, uint64) { return "fuzz", 1 },
	})
	if err := s.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	addr := s.Addrs()[0].String()
	probe := new(dns.Msg)
	probe.SetQuestion("example.com.", dns.TypeA)
	good, err := probe.Pack()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)

	f.Fuzz(func(t *testing.T, pkt []byte) {
		fuzzUDP(t, addr, pkt, good)
		if len(pkt) > 0 && pkt[len(pkt)-1]%4 == 0 && len(pkt) <= dns.MaxMsgSize {
			fuzzTCP(t, addr, pkt, good)
		}
	})
}

// fuzzChain answers A queries for example.com. and NXDOMAIN to the rest,
// whatever the type or class.
func fuzzChain() resolver.Resolver {
	a := &dns.A{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
		A: net.IPv4(192, 0, 2, 1)}
	return resolver.Func(func(ctx context.Context, q *resolver.Query) (*dns.Msg, error) {
		m := new(dns.Msg)
		m.SetReply(q.Msg)
		if q.Name() == "example.com." && q.Type() == dns.TypeA {
			m.Answer = []dns.RR{dns.Copy(a)}
		} else {
			m.Rcode = dns.RcodeNameError
		}
		return m, nil
	})
}

// fuzzUDP sends pkt and then the good query from one socket. Every datagram
// that comes back before the good query's answer must be a reply to pkt;
// the good query must be answered.
func fuzzUDP(t *testing.T, addr string, pkt, good []byte) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(pkt) > 0 {
		// Too big for a datagram is the sender's problem, not the server's.
		c.Write(pkt)
	}
	probe := append([]byte(nil), good...)
	// An ID the input is unlikely to share, so the two replies are told apart.
	binary.BigEndian.PutUint16(probe, fuzzProbeID(pkt))
	if _, err := c.Write(probe); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 65536)
	for {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no answer to a good query after the input: %v", err)
		}
		reply := buf[:n]
		if n >= 2 && binary.BigEndian.Uint16(reply) == fuzzProbeID(pkt) {
			fuzzCheckAnswer(t, reply)
			return
		}
		fuzzCheckReply(t, pkt, reply, 1232)
	}
}

// fuzzTCP sends pkt and then the good query, framed, on one connection, and
// reads replies until the good query's answer: each reply before it must
// answer pkt. If the server hangs up first (it may, on garbage), the good
// query must be answered on a new connection. Connections end with a reset,
// so that a long run does not use up the ports in TIME_WAIT.
func fuzzTCP(t *testing.T, addr string, pkt, good []byte) {
	c := fuzzDial(t, addr)
	defer c.Close()
	probe := append([]byte(nil), good...)
	binary.BigEndian.PutUint16(probe, fuzzProbeID(pkt))
	var out []byte
	for _, m := range [][]byte{pkt, probe} {
		out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
		out = append(out, m...)
	}
	if _, err := c.Write(out); err == nil {
		for {
			reply, err := fuzzReadFrame(c)
			if err != nil {
				break // hung up: try a new connection below
			}
			if binary.BigEndian.Uint16(reply) == fuzzProbeID(pkt) {
				fuzzCheckAnswer(t, reply)
				return
			}
			fuzzCheckReply(t, pkt, reply, dns.MaxMsgSize)
		}
	}
	c2 := fuzzDial(t, addr)
	defer c2.Close()
	if _, err := c2.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(probe))), probe...)); err != nil {
		t.Fatalf("good TCP query after the input: %v", err)
	}
	reply, err := fuzzReadFrame(c2)
	if err != nil {
		t.Fatalf("good TCP query after the input: %v", err)
	}
	fuzzCheckAnswer(t, reply)
}

// fuzzDial connects over TCP with SO_LINGER 0 and a 5 s deadline.
func fuzzDial(t *testing.T, addr string) *net.TCPConn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tc := c.(*net.TCPConn)
	tc.SetLinger(0)
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	return tc
}

func fuzzReadFrame(c net.Conn) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		return nil, err
	}
	return b, nil
}

// fuzzCheckAnswer checks the answer to the good query.
func fuzzCheckAnswer(t *testing.T, reply []byte) {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(reply); err != nil || m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 {
		t.Fatalf("bad answer to the good query: %x", reply)
	}
}

// fuzzCheckReply checks that reply answers pkt: at least a header, the QR bit,
// pkt's ID, and no bigger than max.
func fuzzCheckReply(t *testing.T, pkt, reply []byte, max int) {
	t.Helper()
	switch {
	case len(reply) < headerLen:
		t.Fatalf("reply %x shorter than a header", reply)
	case len(pkt) < headerLen:
		t.Fatalf("reply %x to %x, which is shorter than a header", reply, pkt)
	case reply[2]&0x80 == 0:
		t.Fatalf("reply %x without the QR bit", reply)
	case binary.BigEndian.Uint16(reply) != binary.BigEndian.Uint16(pkt):
		t.Fatalf("reply ID %x, query ID %x", reply[:2], pkt[:2])
	case len(reply) > max:
		t.Fatalf("reply of %d bytes, over %d", len(reply), max)
	}
}

// fuzzProbeID is an ID for the good query that differs from pkt's.
func fuzzProbeID(pkt []byte) uint16 {
	if len(pkt) >= 2 {
		return ^binary.BigEndian.Uint16(pkt)
	}
	return 0xBEEF
}
