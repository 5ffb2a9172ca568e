package upstream

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/miekg/dns"
)

func benchmarkExchange(b *testing.B, proto string) {
	f := fake(b, proto, dnstest.ZoneHandler(records...))
	u := client(b, f, proto, 0)
	m := query("example.com.", dns.TypeA)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := u.Exchange(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExchangeTCP(b *testing.B) { benchmarkExchange(b, "tcp") }
func BenchmarkExchangeTLS(b *testing.B) { benchmarkExchange(b, "tls") }
func BenchmarkExchangeDoH(b *testing.B) { benchmarkExchange(b, "https") }

// udpClients are the UDP exchanges compared: the pooled sockets of New, and
// the socket per query Haven used before (legacyUDP), as a baseline.
var udpClients = []struct {
	name string
	new  func(b *testing.B, addr string) Upstream
}{
	{"socket-per-query", func(_ *testing.B, addr string) Upstream { return newLegacyUDP(addr) }},
	{"pooled", func(b *testing.B, addr string) Upstream {
		u, err := New(Options{Proto: "udp", Addr: addr})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { closeUpstream(u) })
		return u
	}},
}

// BenchmarkExchangeUDP measures one UDP exchange at a time against an
// upstream in another process. cpu-ns/op is this process's CPU time (user
// and system, getrusage) per exchange: the client's cost alone.
func BenchmarkExchangeUDP(b *testing.B) {
	addr := startBenchServer(b)
	for _, c := range udpClients {
		b.Run(c.name, func(b *testing.B) {
			u := c.new(b, addr)
			m := query("example.com.", dns.TypeA)
			ctx := context.Background()
			measureCPU(b, func() {
				for b.Loop() {
					if _, err := u.Exchange(ctx, m); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkExchangeUDPParallel has many exchanges in flight at once, as a
// busy server has: answers are demultiplexed on shared sockets.
func BenchmarkExchangeUDPParallel(b *testing.B) {
	addr := startBenchServer(b)
	for _, c := range udpClients {
		b.Run(c.name, func(b *testing.B) {
			u := c.new(b, addr)
			b.SetParallelism(16)
			measureCPU(b, func() {
				b.RunParallel(func(pb *testing.PB) {
					m := query("example.com.", dns.TypeA)
					ctx := context.Background()
					for pb.Next() {
						if _, err := u.Exchange(ctx, m); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}

// BenchmarkForwarderUDP is the whole cache-miss path of this package:
// Forwarder, Group and the UDP upstream, one query at a time and many.
func BenchmarkForwarderUDP(b *testing.B) {
	addr := startBenchServer(b)
	u, err := New(Options{Proto: "udp", Addr: addr})
	if err != nil {
		b.Fatal(err)
	}
	f := NewForwarder(NewGroup([]Upstream{u}, GroupOptions{}), nil)
	b.Cleanup(func() { f.Close() })
	b.Run("serial", func(b *testing.B) {
		m := dnstest.Query("example.com.", dns.TypeA)
		ctx := context.Background()
		measureCPU(b, func() {
			for b.Loop() {
				if _, err := f.Resolve(ctx, resolverQuery(m)); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(16)
		measureCPU(b, func() {
			b.RunParallel(func(pb *testing.PB) {
				m := dnstest.Query("example.com.", dns.TypeA)
				ctx := context.Background()
				for pb.Next() {
					if _, err := f.Resolve(ctx, resolverQuery(m)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	})
}

// measureCPU runs the benchmark loop and reports allocations and the CPU
// time per operation of this whole process.
func measureCPU(b *testing.B, loop func()) {
	b.ReportAllocs()
	before, ok := dnstest.ProcessCPU()
	loop()
	after, _ := dnstest.ProcessCPU()
	if ok && b.N > 0 {
		b.ReportMetric(float64(after-before)/float64(b.N), "cpu-ns/op")
	}
}

func closeUpstream(u Upstream) {
	if c, ok := u.(interface{ Close() error }); ok {
		c.Close()
	}
}

// legacyUDP is the UDP exchange Haven had before the socket pool, kept for
// the benchmarks' comparison only: a fresh connected socket per query,
// m.Pack, a context.AfterFunc to interrupt the read, and no TCP retry.
type legacyUDP struct {
	addr   string
	dialer net.Dialer
	bufs   sync.Pool
}

func newLegacyUDP(addr string) *legacyUDP {
	u := &legacyUDP{addr: addr}
	u.bufs.New = func() any {
		b := make([]byte, dns.MaxMsgSize)
		return &b
	}
	return u
}

func (u *legacyUDP) String() string { return "legacy udp://" + u.addr }

func (u *legacyUDP) Exchange(ctx context.Context, m *dns.Msg) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, defaultTimeout)
	defer cancel()
	wire, err := m.Pack()
	if err != nil {
		return nil, err
	}
	conn, err := u.dialer.DialContext(ctx, "udp", u.addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	d, _ := ctx.Deadline()
	conn.SetDeadline(d)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(wire); err != nil {
		return nil, err
	}
	bp := u.bufs.Get().(*[]byte)
	defer u.bufs.Put(bp)
	for {
		n, err := conn.Read(*bp)
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		r := new(dns.Msg)
		if r.Unpack((*bp)[:n]) != nil || check(m, r) != nil {
			continue
		}
		return r, nil
	}
}
