package haven_test

import (
	"fmt"
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
