package haven_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/havendns/haven/internal/dnstest"
	"github.com/havendns/haven/internal/haven"
	"github.com/miekg/dns"
)

// TestUDPBatchEndToEnd runs the real chain behind both UDP paths: allowed
// names go upstream once and are then cached, blocked ones never go.
func TestUDPBatchEndToEnd(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("udp_batch=%v", batch), func(t *testing.T) {
			up := dnstest.NewUpstream(t, dnstest.ZoneHandler(zone...))
			h := start(t, fmt.Sprintf("upstreams: [\"udp://%s\"]\nlists: {adult: [{inline: [adult.test]}]}\nblock: [adult]\nudp_batch: %v\n",
				up.Addr(), batch), haven.Options{})
			steps := []struct {
				name, want string
				upstream   int64 // queries the upstream has had after the step
			}{
				{"example.com.", "NOERROR A 192.0.2.1", 1},
				{"ExAmPlE.CoM.", "NOERROR A 192.0.2.1", 1}, // cached, whatever the case
				{"adult.test.", "NXDOMAIN blocked:adult", 1},
				{"www.adult.test.", "NXDOMAIN blocked:adult", 1},
				{"good.test.", "NOERROR A 192.0.2.3", 2},
				{"good.test.", "NOERROR A 192.0.2.3", 2},
			}
			for _, st := range steps {
				m := query(st.name, dns.TypeA)
				m.Id = 4242
				r, err := exchangeFrom("", "udp", h.Addr(), m)
				if err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				if got := outcome(r); got != st.want {
					t.Errorf("%s: %q, want %q", st.name, got, st.want)
				}
				if r.Id != 4242 || len(r.Question) != 1 || r.Question[0].Name != st.name {
					t.Errorf("%s: ID %d, question %v: want the query's", st.name, r.Id, r.Question)
				}
				if n := up.Count(); n != st.upstream {
					t.Errorf("after %s: upstream asked %d times, want %d", st.name, n, st.upstream)
				}
			}
		})
	}
}

// TestUDPBatchUpstreamFaults runs the real chain behind both UDP paths
// with answers that the batched path's prefetching cannot simply pass on:
// a CNAME to a blocked name (the policy inspects the answer), SERVFAIL from
// the first upstream (the second must answer), an answer truncated over
// UDP (TCP must), NXDOMAIN. Both paths must give the same outcomes.
func TestUDPBatchUpstreamFaults(t *testing.T) {
	rrs := func(s ...string) []dns.RR {
		var out []dns.RR
		for _, x := range s {
			out = append(out, mustRR(t, x))
		}
		return out
	}
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("udp_batch=%v", batch), func(t *testing.T) {
			var bigTCP atomic.Int64
			first := dnstest.NewUpstream(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
				m := new(dns.Msg)
				m.SetReply(r)
				switch r.Question[0].Name {
				case "example.com.":
					m.Answer = rrs("example.com. 300 IN A 192.0.2.1")
				case "cdn.test.":
					m.Answer = rrs("cdn.test. 300 IN CNAME adult.test.", "adult.test. 300 IN A 192.0.2.66")
				case "flaky.test.":
					m.Rcode = dns.RcodeServerFailure
				case "big.test.":
					if w.RemoteAddr().Network() == "udp" {
						m.Truncated = true
					} else {
						bigTCP.Add(1)
						m.Answer = rrs("big.test. 300 IN A 192.0.2.5")
					}
				default:
					m.Rcode = dns.RcodeNameError
					m.Ns = rrs("test. 300 IN SOA ns.test. host.test. 1 3600 600 86400 300")
				}
				w.WriteMsg(m)
			}))
			second := dnstest.NewUpstream(t, dnstest.ZoneHandler("flaky.test. 300 IN A 192.0.2.77"))
			h := start(t, fmt.Sprintf("upstreams: [\"udp://%s\", \"udp://%s\"]\nlists: {adult: [{inline: [adult.test]}]}\nblock: [adult]\nudp_batch: %v\n",
				first.Addr(), second.Addr(), batch), haven.Options{})
			for _, st := range []struct{ name, want string }{
				{"example.com.", "NOERROR A 192.0.2.1"},
				{"cdn.test.", "NXDOMAIN blocked:adult"},
				{"big.test.", "NOERROR A 192.0.2.5"},
				{"nx.test.", "NXDOMAIN"},
				// Last: the first upstream backs off after failing.
				{"flaky.test.", "NOERROR A 192.0.2.77"},
			} {
				for i := range 2 { // the second from the cache, or replayed
					if got := outcome(askFrom(t, "", h.Addr(), st.name, dns.TypeA)); got != st.want {
						t.Errorf("%s, query %d: %q, want %q", st.name, i+1, got, st.want)
					}
				}
			}
			if n := second.Count(); n != 1 {
				t.Errorf("second upstream asked %d times, want once (for flaky.test.)", n)
			}
			if n := bigTCP.Load(); n != 1 {
				t.Errorf("big.test. asked over TCP %d times, want once", n)
			}
		})
	}
}
