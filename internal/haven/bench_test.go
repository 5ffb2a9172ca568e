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
// answering from a prebuilt reply, measured in the same run. The client
// sends prebuilt bytes and reads into one buffer, so allocs/op are the
// server's (and its query log writer's, amortised).
//
// Haven runs with every feature on: two profiles, the client a device of
// the "kids" profile with SafeSearch, bypass prevention and a schedule
// window active all day long (blocking one more category), the query log
// at its default level, the rate limit and access check.
func BenchmarkServeUDP(b *testing.B) {
	up := dnstest.NewUpstream(b, dnstest.ZoneHandler(zone...))
	plain := benchHaven(b, up.Addr(), false)
	batch := benchHaven(b, up.Addr(), true)
	null := nullServer(b)
	for _, bc := range []struct{ name, addr, qname string }{
		{"null", null, "example.com."},
		{"miekg-cached", plain, "example.com."},
		{"miekg-blocked", plain, "adult.test."},
		{"cached", batch, "example.com."},
		{"blocked", batch, "adult.test."},
		{"scheduled-block", batch, "games.test."},
	} {
		b.Run(bc.name, func(b *testing.B) {
			conn, err := net.Dial("udp", bc.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			m := dnstest.Query(bc.qname, dns.TypeA)
			wire, err := m.Pack()
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 1232)
			ask := func(i int) {
				wire[0], wire[1] = byte(i>>8), byte(i)
				if _, err := conn.Write(wire); err != nil {
					b.Fatal(err)
				}
				conn.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := conn.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
			ask(0) // warm the caches (the fast path keeps the second answer)
			ask(1)
			time.Sleep(10 * time.Millisecond)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				ask(i)
			}
		})
	}
}

// benchHaven starts a Haven forwarding to upstream, with udp_batch set as
// batch and every feature on, and returns its address.
func benchHaven(b *testing.B, upstream string, batch bool) string {
	cfg, err := config.Parse("bench.yaml", []byte(fmt.Sprintf(`listen: ["127.0.0.1:0"]
upstreams: ["udp://%s"]
data_dir: %q
lists:
  adult: [{inline: [adult.test]}]
  gaming: [{inline: [games.test]}]
profiles:
  adults: {block: [adult]}
  kids:
    block: [adult]
    safesearch: {google: true, bing: true, duckduckgo: true, youtube: strict}
    bypass_prevention: true
    schedules:
      - {name: allday, days: [daily], from: "00:00", to: "23:59", block: [gaming]}
devices:
  - {name: bench, match: ["127.0.0.1"], profile: kids}
default_profile: adults
udp_batch: %v
`, upstream, b.TempDir(), batch)))
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

// BenchmarkServeUDPMiss measures the miss path: every query a new name,
// forwarded to an in-process upstream that answers any name. Its baseline
// is the same client asking that upstream directly ("direct"), measured in
// the same run: the difference is Haven's, allocations included (the
// upstream's and the client's count in both).
func BenchmarkServeUDPMiss(b *testing.B) {
	up := dnstest.NewUpstream(b, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if len(r.Question) == 1 {
			m.Answer = []dns.RR{&dns.A{A: net.IPv4(192, 0, 2, 1),
				Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}}}
		}
		w.WriteMsg(m)
	}))
	h := benchHaven(b, up.Addr(), true)
	run := 0 // each run of each sub-benchmark asks names of its own
	for _, bc := range []struct{ name, addr string }{{"direct", up.Addr()}, {"miss", h}} {
		b.Run(bc.name, func(b *testing.B) {
			run++
			conn, err := net.Dial("udp", bc.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			wires := make([][]byte, b.N)
			for i := range wires {
				m := dnstest.Query(fmt.Sprintf("q%d-%d.%s.example.", i, run, bc.name), dns.TypeA)
				m.Id = uint16(i)
				if wires[i], err = m.Pack(); err != nil {
					b.Fatal(err)
				}
			}
			buf := make([]byte, 1232)
			b.ReportAllocs()
			b.ResetTimer()
			for _, w := range wires {
				if _, err := conn.Write(w); err != nil {
					b.Fatal(err)
				}
				conn.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := conn.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
