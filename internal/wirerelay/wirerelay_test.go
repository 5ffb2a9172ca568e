package wirerelay

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/miekg/dns"
)

// TestRelay: queries from several clients, with the same IDs, reach the
// upstream and each client gets the answer to its own question under its
// own ID; a datagram too short for a header is dropped without harm.
func TestRelay(t *testing.T) {
	up := dnstest.NewUpstream(t, dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Answer = []dns.RR{&dns.TXT{
			Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
			Txt: []string{req.Question[0].Name},
		}}
		w.WriteMsg(m)
	}))
	r, err := Listen("127.0.0.1:0", up.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}()
	junk, err := net.Dial("udp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	junk.Write([]byte{1, 2, 3})
	junk.Close()

	const clients, each = 8, 25
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("udp", r.Addr())
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			dc := &dns.Conn{Conn: conn}
			for i := range each {
				name := dns.Fqdn("q" + string(rune('a'+c)) + string(rune('a'+i)) + ".example.")
				q := new(dns.Msg)
				q.SetQuestion(name, dns.TypeTXT)
				q.Id = uint16(i) // the same IDs from every client
				conn.SetDeadline(time.Now().Add(2 * time.Second))
				if err := dc.WriteMsg(q); err != nil {
					t.Error(err)
					return
				}
				a, err := dc.ReadMsg()
				if err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
				if a.Id != q.Id || len(a.Answer) != 1 || a.Answer[0].(*dns.TXT).Txt[0] != name {
					t.Errorf("%s (ID %d): got ID %d, %v", name, q.Id, a.Id, a.Answer)
				}
			}
		}()
	}
	wg.Wait()
	if n := up.Count(); n != clients*each {
		t.Errorf("upstream asked %d times, want %d", n, clients*each)
	}
}
