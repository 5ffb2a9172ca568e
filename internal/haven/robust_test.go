package haven_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

// TestMalformedPackets sends packets a server must survive, over UDP and
// TCP, and checks that each gets a sensible answer or none, and that the
// server still answers a good query afterwards.
func TestMalformedPackets(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	h := start(t, fmt.Sprintf("upstreams: [\"udp://%s\"]\nlists: {}\nblock: []\n", up.Addr()), haven.Options{})

	good := new(dns.Msg)
	good.SetQuestion("example.com.", dns.TypeA)
	wire := func(m *dns.Msg) []byte {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	twoQuestions := good.Copy()
	twoQuestions.Question = append(twoQuestions.Question, dns.Question{Name: "b.com.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
	noQuestion := good.Copy()
	noQuestion.Question = nil
	update := good.Copy()
	update.Opcode = dns.OpcodeUpdate
	hesiod := good.Copy()
	hesiod.Question[0].Qclass = dns.ClassHESIOD
	axfr := good.Copy()
	axfr.Question[0].Qtype = dns.TypeAXFR
	// A name whose compression pointer points at itself.
	loop := wire(good)
	loop = append(loop[:12], 0xC0, 12, 0, 1, 0, 1)
	// A question that claims a 63-byte label but ends early.
	shortLabel := append(wire(good)[:12], 63, 'a', 'b')

	tests := []struct {
		name  string
		pkt   []byte
		rcode int // -1: no answer expected
	}{
		{"empty", nil, -1},
		{"short header", []byte{1, 2, 3}, -1},
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), -1},
		{"two questions", wire(twoQuestions), dns.RcodeFormatError},
		{"no question", wire(noQuestion), dns.RcodeFormatError},
		{"update opcode", wire(update), dns.RcodeNotImplemented},
		{"class HS", wire(hesiod), dns.RcodeNotImplemented},
		{"AXFR", wire(axfr), dns.RcodeRefused},
		{"compression loop", loop, dns.RcodeFormatError},
		{"truncated label", shortLabel, dns.RcodeFormatError},
	}
	for _, tc := range tests {
		t.Run("udp/"+tc.name, func(t *testing.T) {
			c, err := net.Dial("udp", h.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if len(tc.pkt) > 0 {
				if _, err := c.Write(tc.pkt); err != nil {
					t.Fatal(err)
				}
			}
			checkReply(t, c, tc.rcode, false)
		})
		t.Run("tcp/"+tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", h.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			frame := binary.BigEndian.AppendUint16(nil, uint16(len(tc.pkt)))
			if _, err := c.Write(append(frame, tc.pkt...)); err != nil {
				t.Fatal(err)
			}
			checkReply(t, c, tc.rcode, true)
		})
	}
	// A TCP client that sends half a length prefix and stalls must not
	// block anyone else.
	stall, err := net.Dial("tcp", h.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer stall.Close()
	stall.Write([]byte{0})
	for _, netw := range []string{"udp", "tcp"} {
		if r := ask(t, netw, h.Addr(), "example.com.", dns.TypeA, false); r.Rcode != dns.RcodeSuccess {
			t.Errorf("%s after malformed input: rcode %s", netw, dns.RcodeToString[r.Rcode])
		}
	}
}

func checkReply(t *testing.T, c net.Conn, rcode int, tcp bool) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 65536)
	n, err := c.Read(buf)
	if rcode < 0 {
		if err == nil && n > 0 {
			if tcp && n >= 2 {
				buf, n = buf[2:], n-2
			}
			m := new(dns.Msg)
			if m.Unpack(buf[:n]) == nil && m.Rcode == dns.RcodeSuccess && len(m.Answer) > 0 {
				t.Errorf("garbage got a positive answer: %v", m)
			}
		}
		return
	}
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	if tcp {
		buf, n = buf[2:], n-2
	}
	m := new(dns.Msg)
	if err := m.Unpack(buf[:n]); err != nil {
		// A reply to a packet whose question cannot be parsed may carry
		// only the header; the rcode is what matters.
		var hdr dns.Msg
		if n < 12 {
			t.Fatalf("unparsable reply %x: %v", buf[:n], err)
		}
		hdr.Rcode = int(buf[3] & 0xF)
		m = &hdr
	}
	if m.Rcode != rcode {
		t.Errorf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[rcode])
	}
}

// TestListRefreshUnderLoad rewrites a list file and refreshes it while
// clients keep querying: every query gets an answer, and the new list is
// in force afterwards.
func TestListRefreshUnderLoad(t *testing.T) {
	up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
	list := writeList(t, "one.test\n")
	h := start(t, fmt.Sprintf("upstreams: [\"udp://%s\"]\nlists: {adult: [%q]}\nblock: [adult]\n", up.Addr(), list), haven.Options{})
	if r := ask(t, "udp", h.Addr(), "one.test.", dns.TypeA, false); r.Rcode != dns.RcodeNameError {
		t.Fatalf("one.test not blocked before refresh: %s", dns.RcodeToString[r.Rcode])
	}

	stop := queryLoop(h.Addr, "example.com.")
	for i := 0; i < 5; i++ {
		body := fmt.Sprintf("two.test\nround%d.test\n", i)
		if err := os.WriteFile(list, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		// Make sure the file looks changed even within one mtime tick.
		mt := time.Now().Add(time.Duration(i+1) * time.Second)
		os.Chtimes(list, mt, mt)
		if err := h.Store().Refresh(context.Background()); err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if total, failed := stop(); total == 0 || failed != 0 {
		t.Fatalf("%d of %d queries failed during refreshes", failed, total)
	}
	if r := ask(t, "udp", h.Addr(), "two.test.", dns.TypeA, false); r.Rcode != dns.RcodeNameError {
		t.Errorf("two.test not blocked after refresh: %s", dns.RcodeToString[r.Rcode])
	}
	if r := ask(t, "udp", h.Addr(), "round4.test.", dns.TypeA, false); r.Rcode != dns.RcodeNameError {
		t.Errorf("round4.test not blocked after refresh")
	}
	// one.test is not in the upstream's zone either: only the filter's EDE
	// tells its NXDOMAIN from the upstream's.
	if r := ask(t, "udp", h.Addr(), "one.test.", dns.TypeA, true); ede(r) != nil {
		t.Errorf("one.test still blocked after it left the list: %v", ede(r))
	}
}
