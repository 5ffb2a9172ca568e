package haven_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/havendns/haven/config"
	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

// The server-path benchmarks send real UDP queries over loopback and
// measure the whole round trip, client included. Absolute figures depend on
// the machine; compare each to BenchmarkServeUDP/null, a miekg/dns server
// answering from a prebuilt reply, measured in the same run.
func BenchmarkServeUDP(b *testing.B) {
	up := dnstest.NewUpstream(b, dnstest.ZoneHandler(zone...))
	plain := benchHaven(b, up.Addr(), false)
	batch := benchHaven(b, up.Addr(), true)
	null := nullServer(b)
	for _, bc := range []struct{ name, addr, qname string }{
		{"null", null, "example.com."},
		{"cached", plain, "example.com."},
		{"blocked", plain, "adult.test."},
		{"batch-cached", batch, "example.com."},
		{"batch-blocked", batch, "adult.test."},
	} {
		b.Run(bc.name, func(b *testing.B) {
			conn, err := net.Dial("udp", bc.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			c := &dns.Conn{Conn: conn}
			m := dnstest.Query(bc.qname, dns.TypeA)
			// Warm the cache.
			if err := c.WriteMsg(m); err != nil {
				b.Fatal(err)
			}
			if _, err := c.ReadMsg(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m.Id = uint16(i)
				if err := c.WriteMsg(m); err != nil {
					b.Fatal(err)
				}
				conn.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := c.ReadMsg(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchHaven starts a Haven forwarding to upstream, with udp_batch set as
// batch, and returns its address.
func benchHaven(b *testing.B, upstream string, batch bool) string {
	cfg, err := config.Parse("bench.yaml", []byte(fmt.Sprintf(`listen: ["127.0.0.1:0"]
upstreams: ["udp://%s"]
lists: {adult: [{inline: [adult.test]}]}
block: [adult]
rate_limit: {client: 0}
udp_batch: %v
`, upstream, batch)))
	if err != nil {
		b.Fatal(err)
	}
	h, err := haven.New(cfg, haven.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close(context.Background()) })
	return h.Addr()
}

// nullServer answers every query with the same prebuilt reply.
func nullServer(tb testing.TB) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	rr, _ := dns.NewRR("example.com. 300 IN A 192.0.2.1")
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = []dns.RR{rr}
		w.WriteMsg(m)
	})}
	ready := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(ready) }
	go srv.ActivateAndServe()
	<-ready
	tb.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}
