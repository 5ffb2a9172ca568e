package plainfwd

import (
	"fmt"
	"net"
	"testing"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/miekg/dns"
)

// memWriter is a dns.ResponseWriter that keeps nothing: the handler's own
// cost, without the server loop's.
type memWriter struct{ remote net.Addr }

func (w memWriter) LocalAddr() net.Addr         { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (w memWriter) RemoteAddr() net.Addr        { return w.remote }
func (w memWriter) WriteMsg(m *dns.Msg) error   { _, err := m.Pack(); return err }
func (w memWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w memWriter) Close() error                { return nil }
func (w memWriter) TsigStatus() error           { return nil }
func (w memWriter) TsigTimersOnly(bool)         {}
func (w memWriter) Hijack()                     {}
func (w memWriter) Network() string             { return "udp" }

// BenchmarkServeDNS is the handler's cost per query on each path: a cache
// hit, a blocked name (100,000 listed), and a miss forwarded over loopback
// to a fake upstream (which includes that upstream's work; its NXDOMAIN
// is cached, as every answer would be).
func BenchmarkServeDNS(b *testing.B) {
	up := dnstest.NewUpstream(b, dnstest.ZoneHandler("www.example.com. 300 IN A 192.0.2.1"))
	block := make([]string, 100000)
	for i := range block {
		block[i] = fmt.Sprintf("ads%d.example.net", i)
	}
	f, err := New(Options{Upstream: up.Addr(), Block: block})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := memWriter{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353}}
	hit := dnstest.Query("www.example.com", dns.TypeA)
	f.ServeDNS(w, hit)
	if f.cache.len() != 1 {
		b.Fatal("the answer to the hit query was not cached")
	}
	for _, bb := range []struct {
		name string
		q    func(i int) *dns.Msg
	}{
		{"hit", func(int) *dns.Msg { return hit }},
		{"blocked", func(int) *dns.Msg { return dnstest.Query("x.ads777.example.net", dns.TypeA) }},
		{"miss", func(i int) *dns.Msg { return dnstest.Query(fmt.Sprintf("q%d.miss.example", i), dns.TypeA) }},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				f.ServeDNS(w, bb.q(i))
			}
		})
	}
}
