package upstream

import (
	"context"
	"testing"

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

func BenchmarkExchangeUDP(b *testing.B) { benchmarkExchange(b, "udp") }
func BenchmarkExchangeTCP(b *testing.B) { benchmarkExchange(b, "tcp") }
func BenchmarkExchangeTLS(b *testing.B) { benchmarkExchange(b, "tls") }
func BenchmarkExchangeDoH(b *testing.B) { benchmarkExchange(b, "https") }

func BenchmarkForwarderUDP(b *testing.B) {
	f := NewForwarder(group(b, GroupOptions{}, dnstest.NewUpstream(b, dnstest.ZoneHandler(records...))), nil)
	m := dnstest.Query("example.com.", dns.TypeA)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Resolve(ctx, resolverQuery(m)); err != nil {
			b.Fatal(err)
		}
	}
}
