package upstream

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// heldUpstream is a UDP fake on 127.0.0.1 that answers nothing by itself:
// each query it receives goes to the test (next), which answers when and
// how it likes, from the fake's address, to the query's source port.
type heldUpstream struct {
	tb      testing.TB
	conn    net.PacketConn
	arrived chan heldQuery
	done    chan struct{}
}

type heldQuery struct {
	msg  *dns.Msg
	from *net.UDPAddr
}

func newHeldUpstream(tb testing.TB, addr string) *heldUpstream {
	tb.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		tb.Fatalf("listen udp %s: %v", addr, err)
	}
	h := &heldUpstream{tb: tb, conn: pc, arrived: make(chan heldQuery, 1024), done: make(chan struct{})}
	go h.serve()
	tb.Cleanup(h.close)
	return h
}

func (h *heldUpstream) serve() {
	defer close(h.done)
	buf := make([]byte, dns.MaxMsgSize)
	for {
		n, from, err := h.conn.ReadFrom(buf)
		if err != nil {
			return // closed
		}
		m := new(dns.Msg)
		if m.Unpack(buf[:n]) == nil {
			h.arrived <- heldQuery{m, from.(*net.UDPAddr)}
		}
	}
}

func (h *heldUpstream) addr() string { return h.conn.LocalAddr().String() }

// close closes the port: datagrams to it now draw ICMP port unreachable.
func (h *heldUpstream) close() {
	h.conn.Close()
	<-h.done
}

// next returns the next query received.
func (h *heldUpstream) next() heldQuery {
	h.tb.Helper()
	select {
	case q := <-h.arrived:
		return q
	case <-time.After(10 * time.Second):
		h.tb.Fatal("no query arrived")
		return heldQuery{}
	}
}

// send sends m, packed, to q's source.
func (h *heldUpstream) send(q heldQuery, m *dns.Msg) {
	h.tb.Helper()
	wire, err := m.Pack()
	if err != nil {
		h.tb.Fatal(err)
	}
	h.sendRaw(q, wire)
}

func (h *heldUpstream) sendRaw(q heldQuery, wire []byte) {
	h.tb.Helper()
	if _, err := h.conn.WriteTo(wire, q.from); err != nil {
		h.tb.Fatal(err)
	}
}

// answer returns the answer to q: one A record with ip.
func answer(q heldQuery, ip string) *dns.Msg {
	r := new(dns.Msg)
	r.SetReply(q.msg)
	r.Answer = []dns.RR{&dns.A{
		Hdr: dns.RR_Header{Name: q.msg.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
		A:   net.ParseIP(ip),
	}}
	return r
}

// newTestUDP returns the UDP upstream for addr with its pool tuned.
func newTestUDP(tb testing.TB, addr string, tune func(*udpPool)) *udpUpstream {
	tb.Helper()
	u := newUDP("udp://"+addr, Options{Proto: "udp", Addr: addr, Timeout: time.Minute})
	if tune != nil {
		tune(u.pool)
	}
	tb.Cleanup(func() { u.Close() })
	return u
}

// socks returns the pool's open sockets.
func socks(u *udpUpstream) []*udpSock {
	u.pool.mu.Lock()
	defer u.pool.mu.Unlock()
	return append([]*udpSock(nil), u.pool.socks...)
}

type result struct {
	r   *dns.Msg
	err error
}

// exchangeAsync starts an exchange of m and returns where its result comes.
func exchangeAsync(ctx context.Context, u Upstream, m *dns.Msg) <-chan result {
	c := make(chan result, 1)
	go func() {
		r, err := u.Exchange(ctx, m)
		c <- result{r, err}
	}()
	return c
}

func firstA(r *dns.Msg) string {
	if r == nil || len(r.Answer) == 0 {
		return ""
	}
	if a, ok := r.Answer[0].(*dns.A); ok {
		return a.A.String()
	}
	return ""
}
